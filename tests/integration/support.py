"""Shared constants of the integration tests (importable as `support`: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
DEMO_USERS = {"rita": {}, "ruth": {}, "carol": {"vip": True}, "lars": {}, "sam": {}, "dana": {}, "nils": {},
              "vera": {}, "dev": {}, "admin": {"admin": True}}
