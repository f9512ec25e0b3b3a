// A little plain JavaScript on top of pages that work without it:
// live SLA countdowns, and field rules (*_when, per-state flags) re-evaluated by the server while a form
// is filled in, so the browser never has to interpret the YAML's expressions itself.
(function () {
  "use strict";

  // The words come from the page (data-countdown-* on <body>), in the page's language.
  var words = document.body ? document.body.dataset : {};
  var units = (words.countdownUnits || "d h m").split(" ");

  function spell(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days > 0) return days + units[0] + " " + hours + units[1];
    if (hours > 0) return hours + units[1] + " " + mins + units[2];
    return mins + units[2];
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.dataset.deadline) - now;
      if (isNaN(left)) return;
      el.textContent = (left >= 0 ? words.countdownLeft || "{t} left" : words.countdownOverdue || "overdue {t}")
        .replace("{t}", spell(left));
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600000);
    });
  }

  function applyRules(form, rules) {
    Object.keys(rules).forEach(function (id) {
      var box = form.querySelector('[data-field="' + CSS.escape(id) + '"]');
      if (!box) return;
      var rule = rules[id];
      box.hidden = !rule.visible;
      box.classList.toggle("is-required", !!rule.required);
      box.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !rule.visible || !!rule.readonly;
        if (input.type !== "checkbox" && input.type !== "hidden") input.required = !!rule.required;
      });
    });
  }

  function live(form) {
    var timer = null, token = form.querySelector('input[name="csrf_token"]');
    function ask() {
      var data = new FormData(form);
      fetch(form.dataset.live, {
        method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
        headers: {"X-CSRF-Token": token ? token.value : "", "Accept": "application/json"}
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (rules) { if (rules) applyRules(form, rules); })
        .catch(function () { /* the server checks everything on submit anyway */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(ask, 200); }
    form.addEventListener("change", later);
    form.addEventListener("input", later);
  }

  // Known errors while a new ticket is described: resolved tickets with similar text, as links.
  function similar(form) {
    var box = document.getElementById("similar"), timer = null;
    var fields = (form.dataset.suggestFields || "").split(" ").filter(Boolean);  // the form's prose fields
    var token = form.querySelector('input[name="csrf_token"]');
    if (!box) return;
    function ask() {
      fetch(form.dataset.suggest, {
        method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
        headers: {"X-CSRF-Token": token ? token.value : "", "Accept": "application/json"}
      }).then(function (r) { return r.ok ? r.json() : []; }).then(function (items) {
        var list = box.querySelector("ul");
        list.textContent = "";
        items.forEach(function (item) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = item.url; a.target = "_blank"; a.rel = "noopener";
          a.textContent = item.number + " · " + item.title;
          li.appendChild(a);
          var more = document.createElement("span");
          more.className = "muted";
          more.textContent = " · " + item.state + " · " + item.similarity;  // in the page's language, from the server
          li.appendChild(more);
          list.appendChild(li);
        });
        box.hidden = items.length === 0;
      }).catch(function () {});
    }
    form.addEventListener("input", function (event) {
      var name = event.target && event.target.name;
      if (!name || fields.indexOf(name) < 0) return;
      clearTimeout(timer); timer = setTimeout(ask, 400);
    });
  }

  // The agent's report form: the ongoing outages regrouped while the incident is described, those like the
  // text first (the server ranks them); the agent's choice is kept.
  function outages(form) {
    var box = form.querySelector(".outage-picker[data-outages]"), timer = null;
    if (!box) return;
    var select = box.querySelector("select"), note = box.querySelector("#outage-match");
    var fields = (form.dataset.suggestFields || "").split(" ").filter(Boolean);
    var token = form.querySelector('input[name="csrf_token"]');
    function fill(group, items) {
      var holder = select.querySelector('optgroup[data-group="' + group + '"]');
      holder.textContent = "";
      items.forEach(function (item) {
        var option = document.createElement("option");
        option.value = item.number;
        option.textContent = item.label;
        holder.appendChild(option);
      });
      holder.hidden = items.length === 0;
    }
    function ask() {
      fetch(box.dataset.outages, {
        method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
        headers: {"X-CSRF-Token": token ? token.value : "", "Accept": "application/json"}
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (found) {
        if (!found) return;
        var chosen = select.value;
        fill("matching", found.matching);
        fill("other", found.other);
        select.value = chosen;
        if (select.value !== chosen) select.value = "";
        note.textContent = note.dataset.template.replace("{numbers}",
          found.matching.map(function (item) { return item.number; }).join(", "));
        note.hidden = found.matching.length === 0;
      }).catch(function () {});
    }
    form.addEventListener("input", function (event) {
      var name = event.target && event.target.name;
      if (!name || fields.indexOf(name) < 0) return;
      clearTimeout(timer); timer = setTimeout(ask, 400);
    });
  }

  // Files too large (or too many) are said at once, not after a long upload; the server checks again.
  function fileLimits(input) {
    var note = document.createElement("p");
    note.className = "error";
    note.hidden = true;
    note.setAttribute("role", "alert");
    input.insertAdjacentElement("afterend", note);
    input.addEventListener("change", function () {
      var most = parseInt(input.dataset.maxBytes, 10), problems = [];
      if (input.files.length > parseInt(input.dataset.maxFiles, 10)) problems.push(input.dataset.tooMany);
      Array.prototype.forEach.call(input.files, function (file) {
        if (file.size > most) problems.push(input.dataset.tooLarge.replace("{name}", file.name));
      });
      note.textContent = problems.join(" ");
      note.hidden = problems.length === 0;
      if (problems.length) input.value = "";
    });
  }

  // One click on a triage suggestion takes it: the field's select gets the value (the link works without us).
  function takeSuggestions(form) {
    form.querySelectorAll("a.take[data-take]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var select = form.querySelector('select[name="' + CSS.escape(link.dataset.take) + '"]');
        if (!select) return;
        event.preventDefault();
        select.value = link.dataset.value;
        select.dispatchEvent(new Event("change", {bubbles: true}));
        select.focus();
      });
    });
  }

  // The queue's bulk bar: a count of the selected rows, "select all", and the step offered only when every
  // selected ticket takes it: otherwise a note names those that cannot and the button waits (the server
  // checks again, for pages without this script).
  function bulkBar(form) {
    var boxes = form.querySelectorAll('input[type=checkbox][name="number"]');
    var all = form.querySelector("input[data-select-all]"), count = form.querySelector("[data-selected-count]");
    var select = form.querySelector('select[name="transition"]'), note = form.querySelector("[data-bulk-note]");
    var apply = form.querySelector('button[name="action"][value="transition"]');
    function offers(box, transition) {
      return (box.closest("tr").dataset.transitions || "").split(" ").indexOf(transition) >= 0;
    }
    function update() {
      var chosen = Array.prototype.filter.call(boxes, function (b) { return b.checked; });
      if (count) count.textContent = count.dataset.template.replace("{count}", chosen.length);
      if (!select) return;
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) return;
        var everywhere = chosen.every(function (b) { return offers(b, option.value); });
        option.classList.toggle("partial", chosen.length > 0 && !everywhere);
      });
      var cannot = select.value ? chosen.filter(function (b) { return !offers(b, select.value); })
        .map(function (b) { return b.closest("tr").dataset.number; }) : [];
      if (note) {
        note.hidden = cannot.length === 0;
        note.textContent = cannot.length ? note.dataset.template.replace("{transition}",
          select.options[select.selectedIndex].text).replace("{numbers}", cannot.join(", ")) : "";
      }
      if (apply) apply.disabled = cannot.length > 0;
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    if (select) select.addEventListener("change", update);
    if (all) all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
    update();
  }

  // The agent's create form: the requester found by name, mail or organization while typing.
  function requesterLookup(input) {
    var list = document.getElementById(input.getAttribute("list")), timer = null;
    function ask() {
      var q = input.value.trim();
      if (q.length < 2) return;
      fetch(input.dataset.lookup + "?q=" + encodeURIComponent(q), {credentials: "same-origin",
        headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (people) {
          list.textContent = "";
          people.forEach(function (person) {
            var option = document.createElement("option");
            option.value = person.name;
            option.label = person.label;
            option.textContent = person.label;
            list.appendChild(option);
          });
        }).catch(function () {});
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 250); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    words = document.body.dataset;
    units = (words.countdownUnits || "d h m").split(" ");
    tick();
    setInterval(tick, 30000);
    document.querySelectorAll("form[data-live]").forEach(live);
    document.querySelectorAll("form[data-suggest]").forEach(similar);
    document.querySelectorAll("form[data-suggest]").forEach(outages);
    document.querySelectorAll("input[type=file][data-max-bytes]").forEach(fileLimits);
    document.querySelectorAll("form.generated").forEach(takeSuggestions);
    document.querySelectorAll("form.bulk").forEach(bulkBar);
    document.querySelectorAll("input[data-lookup]").forEach(requesterLookup);
  });
})();
