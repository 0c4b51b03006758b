// Portal logic: plain browser JavaScript, no framework, no third-party requests. Every value from
// the service is written with textContent (never innerHTML), so a hostile lot or serial cannot
// inject markup.
"use strict";

(function () {
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function facts(pairs) {
    var dl = el("dl", { class: "facts" });
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      dl.appendChild(el("dt", {}, [p[0]]));
      dl.appendChild(el("dd", {}, [String(p[1])]));
    });
    return dl;
  }

  // Green for a pack that may be used; amber where someone must look before it is (in transit, on
  // hold, not checkable here); red for everything that says "do not use".
  var TONE = { genuine: "ok", in_transit: "warn", locked: "warn", serials_unavailable: "warn" };
  var STATUS_WORDS = { Active: "active", Quarantined: "on hold by the regulator", Recalled: "recalled" };

  // ── Views ──
  function show(view) {
    var auditor = view === "auditor";
    $("check").hidden = auditor;
    $("auditor").hidden = !auditor;
    [["nav-check", !auditor], ["nav-auditor", auditor]].forEach(function (x) {
      if (x[1]) $(x[0]).setAttribute("aria-current", "page");
      else $(x[0]).removeAttribute("aria-current");
    });
  }
  window.addEventListener("hashchange", function () { show(location.hash === "#auditor" ? "auditor" : "check"); });

  // ── Pack check ──
  function renderVerdict(r) {
    var box = $("result");
    box.replaceChildren();
    box.className = TONE[r.verdict] || "bad";
    box.dataset.verdict = r.verdict;
    box.appendChild(el("h3", { id: "verdict-headline" }, [r.headline]));
    box.appendChild(el("p", { id: "verdict-advice" }, [r.advice]));
    var expiry = r.batch ? r.batch.expiry : r.product.expiry;
    box.appendChild(facts([
      ["Product (GTIN)", r.product.gtin],
      ["Lot", r.product.lot],
      ["Expiry", expiry],
      ["Serial number", r.product.serial],
      ["Batch status", r.batch ? STATUS_WORDS[r.batch.status] + (r.batch.statusSince ? " since " + r.batch.statusSince : "") : null],
      ["Dispensed on", r.dispensedOn],
      ["Recorded on", r.verdict !== "dispensed" ? r.stateSince : null],
      ["Product", r.product.status === "Withdrawn" ? "withdrawn from the market by its manufacturer" : null],
    ]));
    // The service words the reason; the page only shows it.
    if (r.expiryNote) box.appendChild(el("p", { id: "expiry-note" }, [r.expiryNote]));
    if (r.proof) {
      var d = el("details", {}, [el("summary", {}, ["Technical proof"])]);
      d.appendChild(el("p", { class: "proof" }, ["Unit " + r.proof.unitIndex + " · leaf " + r.proof.leaf + " · root " + r.proof.root + " · " + r.proof.siblings.length + " sibling hashes · checked at block " + r.chain.block]));
      box.appendChild(d);
    }
    box.hidden = false;
  }

  function renderProblem(title, message, hint, tone, verdict) {
    var box = $("result");
    box.replaceChildren();
    box.className = tone;
    box.dataset.verdict = verdict;
    box.appendChild(el("h3", { id: "verdict-headline" }, [title]));
    box.appendChild(el("p", { id: "verdict-advice" }, [message]));
    if (hint) box.appendChild(el("p", {}, ["What to do: " + hint]));
    box.hidden = false;
  }

  async function check(code) {
    var button = $("check-button");
    button.disabled = true;
    try {
      var res = await fetch("/v1/verify/scan?code=" + encodeURIComponent(code), { headers: { accept: "application/json" } });
      var body = await res.json();
      if (res.ok) renderVerdict(body);
      else if (res.status === 429) renderProblem("Too many checks from this connection", body.error.message, body.error.hint, "warn", "rate_limited");
      else if (res.status === 400) renderProblem("This code could not be read", body.error.message, body.error.hint, "warn", "malformed");
      else renderProblem("The check is not available right now", body.error ? body.error.message : "service error", "try again in a minute", "warn", "unavailable");
    } catch (err) {
      renderProblem("The check is not available right now", "The service did not answer (" + err.message + ").", "check your connection and try again", "warn", "unavailable");
    } finally {
      button.disabled = false;
    }
  }

  $("scan-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = $("code").value;
    if (code.trim() === "") {
      renderProblem("Nothing to check", "The code field is empty.", "scan the 2D code on the pack or type it", "warn", "malformed");
      return;
    }
    check(code);
  });

  // ── Auditor timeline ──
  async function getJson(url) {
    var key = $("api-key").value;
    var res = await fetch(url, { headers: key ? { "x-api-key": key, accept: "application/json" } : { accept: "application/json" } });
    var body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message + (body.error.hint ? " — " + body.error.hint : "") : "HTTP " + res.status);
    return body;
  }

  async function timeline() {
    var out = $("timeline");
    out.replaceChildren(el("p", {}, ["Loading…"]));
    try {
      var id = $("batch-id").value.trim();
      if (!id) {
        var gtin = $("batch-gtin").value.trim();
        var lot = $("batch-lot").value.trim();
        if (!gtin || !lot) throw new Error("enter a batch id, or a GTIN and a lot");
        id = (await getJson("/v1/batches/lookup?gtin=" + encodeURIComponent(gtin) + "&lot=" + encodeURIComponent(lot))).batchId;
      }
      var batch = await getJson("/v1/batches/" + encodeURIComponent(id));
      var h = await getJson("/v1/batches/" + encodeURIComponent(id) + "/history");
      out.replaceChildren();
      out.appendChild(el("h3", {}, ["Batch " + batch.batchId + " — lot " + batch.lot]));
      out.appendChild(facts([
        ["GTIN", batch.gtin], ["Expiry", batch.expiry], ["Status", batch.status], ["Quantity minted", batch.quantity],
        ["Current holders", batch.holders.map(function (x) { return x.holder + " (" + x.quantity + ")"; }).join(", ") || "none"],
        ["In transit", batch.pending.map(function (p) { return p.quantity + " → " + p.receiver; }).join(", ") || "none"],
      ]));
      var ol = el("ol", { class: "timeline", id: "timeline-list", "aria-label": "Custody events, oldest first" });
      h.custody.forEach(function (e) {
        ol.appendChild(el("li", { class: e.kind, "data-event": e.event }, [
          el("div", { class: "when" }, [e.blockTime.replace("T", " ").replace(/\.\d+Z$/, " UTC") + " · block " + e.blockNumber]),
          el("div", {}, [e.description]),
          el("div", { class: "proof" }, ["tx " + e.txHash + " · log " + e.logIndex]),
        ]));
      });
      out.appendChild(ol);
    } catch (err) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, ["Could not load the timeline: " + err.message]));
    }
  }

  $("batch-form").addEventListener("submit", function (ev) { ev.preventDefault(); timeline(); });

  // ── Auditor: a pack's own history ──
  var STATE_WORDS = {
    Held: "held", InTransit: "in transit", Dispensed: "dispensed", Destroyed: "destroyed", Stolen: "reported stolen",
    Sample: "sample", FreeSample: "free sample", Exported: "exported", Locked: "on hold (locked)", Unpacked: "opened", None: "untouched",
  };
  async function packHistory() {
    var out = $("pack-history");
    out.replaceChildren(el("p", {}, ["Loading…"]));
    try {
      var id = $("pack-batch").value.trim() || $("batch-id").value.trim();
      var ref = $("pack-ref").value.trim();
      if (!id || !ref) throw new Error("enter a batch id and a pack number or serial");
      var url = /^\d+$/.test(ref) ? "/v1/batches/" + encodeURIComponent(id) + "/packs/" + ref + "/history" : "/v1/batches/" + encodeURIComponent(id) + "/serials/" + encodeURIComponent(ref) + "/history";
      var h = await getJson(url);
      out.replaceChildren();
      out.appendChild(el("h3", {}, ["Pack " + h.unitIndex + (h.serial ? " — serial " + h.serial : "") + " of batch " + h.batchId]));
      out.appendChild(facts([
        ["Now", STATE_WORDS[h.state] || h.state], ["Case", h.case], ["Pallet", h.pallet],
        ["Holders", h.holders.map(function (x) { return x.holder + (x.gln ? " (GLN " + x.gln + ")" : "") + " from " + x.from.replace("T", " ").replace(/\.\d+Z$/, " UTC") + (x.to ? " to " + x.to.replace("T", " ").replace(/\.\d+Z$/, " UTC") : " until now"); }).join("; ") || "none"],
      ]));
      var ol = el("ol", { class: "timeline", id: "pack-history-list", "aria-label": "Events of this pack, oldest first" });
      h.entries.forEach(function (e) {
        ol.appendChild(el("li", { class: e.via === "batch" ? "status" : "custody", "data-event": e.event, "data-state": e.state }, [
          el("div", { class: "when" }, [e.blockTime.replace("T", " ").replace(/\.\d+Z$/, " UTC") + " · block " + e.blockNumber + " · by " + e.via]),
          el("div", {}, [e.description + " → " + (STATE_WORDS[e.state] || e.state)]),
          el("div", { class: "proof" }, ["tx " + e.txHash + " · log " + e.logIndex]),
        ]));
      });
      out.appendChild(ol);
    } catch (err) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, ["Could not load the pack's history: " + err.message]));
    }
  }

  $("pack-form").addEventListener("submit", function (ev) { ev.preventDefault(); packHistory(); });

  // ── Start: the Digital Link resolver sends browsers here with ?code=… ──
  var params = new URLSearchParams(location.search);
  show(location.hash === "#auditor" ? "auditor" : "check");
  if (params.get("code")) {
    $("code").value = params.get("code");
    check(params.get("code"));
  }
  if (params.get("batch")) {
    show("auditor");
    $("batch-id").value = params.get("batch");
    timeline();
  }
})();
