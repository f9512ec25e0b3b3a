"""Packs and overlays (SPEC 3.1): reading a pack directory, following `extends`, merging documents.

Merging works on located trees, so every value keeps the file and line that introduced it and errors
found on the merged result point at the overlay's own file when the overlay set the value.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DefinitionError, Position, did_you_mean, format_path
from .source import Node, SourceDocument, read_pack_files

MAX_CHAIN = 16


@dataclass
class MergedPack:
    """The documents of a pack after overlays, keyed by (kind, id), in load order."""

    root: Path
    documents: dict[tuple[str, str], SourceDocument] = field(default_factory=dict)
    chain: list[Path] = field(default_factory=list)  # the pack directories, base first
    removed: dict[str, Position] = field(default_factory=dict)  # removed id -> where it was removed
    layers: dict[str, int] = field(default_factory=dict)  # file -> its pack's place in `chain` (base: 0)


def load_merged(root: Path, problems: list[DefinitionError]) -> MergedPack:
    """Read `root` and, through `extends`, its bases; return the merged documents."""
    root = Path(os.path.normpath(root.absolute()))  # not resolve(): keep the author's view of symlinks
    pack = MergedPack(root)
    _load_into(pack, root, root, problems, [])
    return pack


def _load_into(pack: MergedPack, pack_dir: Path, top: Path, problems: list[DefinitionError],
               stack: list[Path]) -> None:
    documents = read_pack_files(pack_dir, problems)
    for doc in documents:
        doc.file = _relative(pack_dir / doc.file, top)
        _relocate(doc.node, doc.file)
    pack_docs = [d for d in documents if d.kind == "pack"]
    base = _extends(pack_docs, pack_dir, top, problems, stack)
    if base is not None:
        _load_into(pack, base, top, problems, [*stack, pack_dir])
    pack.chain.append(pack_dir)
    for doc in documents:
        pack.layers[doc.file] = len(pack.chain) - 1

    seen: dict[tuple[str, str], SourceDocument] = {}
    for extra in pack_docs[1:]:
        if extra.id is not None and extra.id != pack_docs[0].id:
            problems.append(DefinitionError(_id_pos(extra), extra.subject, "id",
                                            f"a second pack document: a pack has exactly one "
                                            f"(the first is '{pack_docs[0].id}')"))
            documents.remove(extra)
    for doc in documents:
        kind, ident = doc.kind, doc.id
        if kind is None or ident is None:
            # Shape problems (missing kind or id) are reported by the schema pass.
            pack.documents[(f"?{len(pack.documents)}", str(id(doc)))] = doc
            continue
        key = (kind, ident)
        if key in seen and (base is None or kind == "pack"):
            # In an overlay, several documents of one kind+id (one file per change request) merge onto the
            # base in path order; within a base pack a second one is a mistake.
            first = seen[key]
            problems.append(DefinitionError(
                _id_pos(doc), doc.subject, "id",
                f"duplicate id '{ident}': {kind} '{ident}' is already defined at "
                f"{first.file}:{_id_pos(first).line}"))
            continue
        seen[key] = doc
        _apply(pack, doc, key, problems)


def _apply(pack: MergedPack, doc: SourceDocument, key: tuple[str, str],
           problems: list[DefinitionError]) -> None:
    node = doc.node
    assert isinstance(node.value, dict)
    existing = pack.documents.get(key)
    if node.value.get("remove") is not None and node.value["remove"].value is True:
        if existing is None:
            problems.append(DefinitionError(node.value["remove"].pos, doc.subject, "remove",
                                            f"cannot remove {key[0]} '{key[1]}': the base pack has none"))
        else:
            del pack.documents[key]
            pack.removed[key[1]] = node.value["remove"].pos
        return
    if existing is None or key[0] == "pack":
        if key[0] == "pack":
            # The overlay's pack document replaces the base's; keys it leaves out are inherited.
            for old_key in [k for k in pack.documents if k[0] == "pack"]:
                base_pack = pack.documents.pop(old_key)
                merged = merge_nodes(base_pack.node, node, doc.subject, pack, problems)
                node = merged
                if isinstance(node.value, dict):
                    node.value.pop("extends", None)
                    if "extends" in doc.node.value:
                        node.value["extends"] = doc.node.value["extends"]
            doc = SourceDocument(doc.file, doc.pack_dir, node, doc.index, doc.over_limit)
        pack.documents[key] = doc
        return
    merged = merge_nodes(existing.node, node, doc.subject, pack, problems)
    pack.documents[key] = SourceDocument(existing.file, existing.pack_dir, merged, existing.index,
                                         existing.over_limit or doc.over_limit)


def merge_nodes(base: Node, over: Node, subject: str, pack: MergedPack,
                problems: list[DefinitionError], path: tuple[str | int, ...] = ()) -> Node:
    """Deep-merge `over` onto `base` as SPEC 3.1 says; neither input is modified."""
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        items = dict(base.value)
        for k, child in over.value.items():
            items[k] = (merge_nodes(items[k], child, subject, pack, problems, (*path, k))
                        if k in items else child)
        return Node(items, base.pos, base.key_pos if base.key_pos else over.key_pos)
    if _is_id_list(base) and _is_id_list(over):
        merged: dict[str, Node] = {_item_id(n): n for n in base.value}
        for index, item in enumerate(over.value):
            ident = _item_id(item)
            remove = item.value.get("remove")
            if remove is not None and remove.value is True:
                if ident in merged:
                    del merged[ident]
                    pack.removed[ident] = remove.pos
                else:
                    problems.append(DefinitionError(
                        remove.pos, subject, format_path((*path, index, "remove")),
                        f"cannot remove '{ident}': the base has no such item"))
                continue
            item, anchor = _position_of(item, merged, subject, (*path, index), problems)
            if anchor is False:
                continue  # placed wrongly: reported, and left out rather than put somewhere it was not meant
            merged[ident] = (merge_nodes(merged[ident], item, subject, pack, problems, (*path, ident))
                             if ident in merged else item)
            if isinstance(anchor, tuple):
                merged = _placed(merged, ident, *anchor)
        result = Node(list(merged.values()), over.pos, base.key_pos)
        return result
    replaced = copy.copy(over)
    replaced.key_pos = over.key_pos or base.key_pos
    return replaced


POSITION_KEYS = ("before", "after")
# Lists whose items have a key of the language named like a position word: a transition's `after:` is the
# delay of a timed transition, so a transition is placed with `before:` only.
NATIVE_KEYS = {"transitions": ("after",)}


def _position_of(item: Node, merged: dict[str, Node], subject: str, path: tuple[str | int, ...],
                 problems: list[DefinitionError]) -> tuple[Node, tuple[str, str] | None | bool]:
    """The item without its `before:`/`after:` (overlay words, not part of the kind's language) and where it
    goes: (before|after, id of another item of the list), None to keep its place (new items: last), or
    False when the place is wrong (reported)."""
    native = NATIVE_KEYS.get(str(path[-2]), ()) if len(path) >= 2 else ()
    words = [k for k in POSITION_KEYS if k not in native]
    given = [k for k in words if k in item.value]
    if not given:
        return item, None
    stripped = Node({k: v for k, v in item.value.items() if k not in words}, item.pos, item.key_pos)
    if len(given) > 1:
        problems.append(DefinitionError(item.value["after"].key_pos or item.pos, subject,
                                        format_path((*path, "after")),
                                        "an item goes either before or after another one, not both"))
        return stripped, False
    word = given[0]
    target = item.value[word]
    ident = _item_id(item)
    others = [k for k in merged if k != ident]
    if not isinstance(target.value, str) or target.value not in others:
        hint = did_you_mean(str(target.value), others)
        listed = f" (the list holds: {', '.join(others)})" if not hint and others else ""
        reason = ("an item cannot be placed relative to itself" if target.value == ident else
                  f"no item '{target.value}' to place '{ident}' {word}{hint}{listed}")
        problems.append(DefinitionError(target.pos, subject, format_path((*path, word)), reason))
        return stripped, False
    return stripped, (word, target.value)


def _placed(items: dict[str, Node], ident: str, word: str, anchor: str) -> dict[str, Node]:
    """`items` with `ident` moved just before or just after `anchor` (insertion order is list order)."""
    node = items[ident]
    out: dict[str, Node] = {}
    for key, value in items.items():
        if key == ident:
            continue
        if key == anchor and word == "before":
            out[ident] = node
        out[key] = value
        if key == anchor and word == "after":
            out[ident] = node
    return out


def _is_id_list(node: Node) -> bool:
    return (isinstance(node.value, list) and bool(node.value)
            and all(isinstance(n.value, dict) and isinstance(n.value.get("id"), Node)
                    and isinstance(n.value["id"].value, str) for n in node.value))


def _item_id(node: Node) -> str:
    ident = node.value["id"].value
    assert isinstance(ident, str)
    return ident


def _extends(pack_docs: list[SourceDocument], pack_dir: Path, top: Path,
             problems: list[DefinitionError], stack: list[Path]) -> Path | None:
    for doc in pack_docs:
        value = doc.node.value
        ext = value.get("extends") if isinstance(value, dict) else None
        if ext is None or not isinstance(ext.value, str):
            continue
        base = Path(os.path.normpath(pack_dir / ext.value))
        chain = [*stack, pack_dir]
        resolved = [p.resolve() for p in chain]
        if base.resolve() in resolved:
            start = resolved.index(base.resolve())
            cycle = " -> ".join(_relative(p, top) or "." for p in [*chain[start:], base])
            problems.append(DefinitionError(ext.pos, doc.subject, "extends", f"overlay cycle: {cycle}"))
            return None
        if len(chain) >= MAX_CHAIN:
            problems.append(DefinitionError(ext.pos, doc.subject, "extends",
                                            f"overlay chain is longer than {MAX_CHAIN} packs"))
            return None
        if not base.is_dir():
            problems.append(DefinitionError(ext.pos, doc.subject, "extends",
                                            f"base pack '{ext.value}' is not a directory"))
            return None
        return base
    return None


def _id_pos(doc: SourceDocument) -> Position:
    value = doc.node.value
    ident = value.get("id") if isinstance(value, dict) else None
    return ident.pos if isinstance(ident, Node) else doc.node.pos


def _relative(path: Path, top: Path) -> str:
    rel = os.path.relpath(path, top)
    return "" if rel == "." else Path(rel).as_posix()


def _relocate(node: Node, file: str) -> None:
    """Rewrite positions read relative to a base pack so they are relative to the validated pack."""
    if node.pos.file != file:
        node.pos = Position(file, node.pos.line, node.pos.col)
        if node.key_pos is not None:
            node.key_pos = Position(file, node.key_pos.line, node.key_pos.col)
    if isinstance(node.value, dict):
        for child in node.value.values():
            _relocate(child, file)
    elif isinstance(node.value, list):
        for child in node.value:
            _relocate(child, file)
