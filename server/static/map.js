/* The city map: the grids (public GeoJSON) coloured by one figure per grid from the statistics endpoint.
   Five quantile classes, a legend, a tooltip on hover (grid name, code, figure), a popup on click (its community
   and figures). Only codes and numbers come from the statistics; no record or person ever reaches this page. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var t = cfg.strings;
  var PALETTES = {
    count: ["#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"],
    share_of_days: ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"]
  };
  var NO_DATA = "#d5d9de";
  var LEVEL_KEYS = { grids: "code", communities: "community_code", streets: "street_code", districts: "district_code" };

  var controls = document.getElementById("map-controls");
  var statusEl = document.getElementById("map-status");
  var metricEl = document.getElementById("map-metric");
  var categoryEl = document.getElementById("map-category");
  var fromEl = document.getElementById("map-from");
  var toEl = document.getElementById("map-to");

  var map = L.map("map", { zoomSnap: 0.25, attributionControl: Boolean(cfg.tiles.url) });
  if (cfg.tiles.url) {
    L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, subdomains: cfg.tiles.subdomains, maxZoom: 18 })
      .addTo(map);
  }
  var layer = null;
  var view = { stats: null, community: null, classes: [], palette: PALETTES.count, level: "grids" };
  var summaries = {};  // window -> {metric: grid figures}, for the popup

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.message || r.status); }
        return body;
      });
    });
  }

  function statsUrl(level, args) {
    var query = Object.keys(args).filter(function (k) { return args[k]; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(args[k]); }).join("&");
    return cfg.stats_url.replace("{level}", level) + "?" + query;
  }

  function metricLabel(key) {
    return cfg.metrics.filter(function (m) { return m.key === key; })[0].label;
  }

  function format(value, unit) {
    if (value === undefined || value === null) { return "—"; }
    return unit === "share_of_days" ? Math.round(value * 100) + "%" : String(value);
  }

  /* Up to five classes: "0" on its own when some units have nothing, quantiles of the rest. */
  function classify(values, unit) {
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var classes = [];
    var positive = sorted.filter(function (v) { return v > 0; });
    if (sorted.length && sorted[0] <= 0) { classes.push({ low: 0, high: 0 }); }
    var n = 5 - classes.length;
    var low = positive.length ? positive[0] : 0;
    for (var i = 1; i <= n && positive.length; i++) {
      var high = positive[Math.min(positive.length - 1, Math.ceil(i * positive.length / n) - 1)];
      if (classes.length && high <= classes[classes.length - 1].high) { continue; }
      classes.push({ low: low, high: high });
      low = unit === "count" ? high + 1 : high;
    }
    return classes;
  }

  function classOf(value) {
    for (var i = 0; i < view.classes.length; i++) {
      if (value <= view.classes[i].high) { return i; }
    }
    return view.classes.length - 1;
  }

  function colourOf(value) {
    if (value === undefined || value === null || !view.classes.length) { return NO_DATA; }
    // Fewer than five classes: spread them over the palette, the lowest (often "0") always the lightest.
    var k = view.classes.length;
    return view.palette[k <= 1 ? 0 : Math.round(classOf(value) * (view.palette.length - 1) / (k - 1))];
  }

  function valueFor(feature) {
    if (!view.stats) { return undefined; }
    return view.stats[view.level][feature.properties[LEVEL_KEYS[view.level]]];
  }

  function style(feature) {
    return { fillColor: colourOf(valueFor(feature)), fillOpacity: 0.85, color: "#7b8794", opacity: 0.55, weight: 0.5 };
  }

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "map-legend");
    div.id = "map-legend";
    return div;
  };
  legend.addTo(map);

  function drawLegend() {
    var s = view.stats;
    var html = "<h3>" + escapeHtml(metricLabel(s.metric)) +
      (s.category ? " · " + escapeHtml(categoryEl.options[categoryEl.selectedIndex].text) : "") + "</h3>";
    html += '<div class="note">' + escapeHtml(fill(t.window, { from: s.from, to: s.to, days: s.days })) + "<br>" +
      escapeHtml(s.unit === "share_of_days" ? t.coverage_note : t.basis) +
      (view.level !== "grids" ? "<br>" + escapeHtml(t.per_street) : "") + "</div>";
    view.classes.forEach(function (c, i) {
      var text = c.low === c.high ? format(c.low, s.unit) : format(c.low, s.unit) + " – " + format(c.high, s.unit);
      html += '<div class="row"><i style="background:' + colourOf(c.high) + '"></i>' + escapeHtml(text) + "</div>";
    });
    html += '<div class="row"><i style="background:' + NO_DATA + '"></i>' + escapeHtml(t.no_data) + "</div>";
    document.getElementById("map-legend").innerHTML = html;
  }

  function tooltip(target) {
    var p = target.feature.properties;
    var value = view.stats ? format(valueFor(target.feature), view.stats.unit) : "…";
    return "<strong>" + escapeHtml(p.name) + "</strong><br>" + escapeHtml(p.code) + "<br>" +
      escapeHtml(metricLabel(metricEl.value)) + (view.level !== "grids" ? " (" + escapeHtml(t.street) + ")" : "") +
      ": <strong>" + escapeHtml(value) + "</strong>";
  }

  function args() {
    var metric = metricEl.value;
    var category = cfg.category_metrics.indexOf(metric) >= 0 ? categoryEl.value : "";
    return { metric: metric, category: category, from: fromEl.value, to: toEl.value };
  }

  function levelFor(category) {
    var option = categoryEl.querySelector('option[value="' + category + '"]');
    var confidential = category && option && option.dataset.confidential === "1";
    return confidential && cfg.confidential_level !== "grids" ? "streets" : "grids";
  }

  /* The four metrics of one grid, for its popup: fetched once per window (all grids at once, never one grid). */
  function summary(windowKey, a) {
    if (!summaries[windowKey]) {
      summaries[windowKey] = Promise.all(cfg.metrics.map(function (m) {
        return getJSON(statsUrl("grids", { metric: m.key, from: a.from, to: a.to }));
      }));
    }
    return summaries[windowKey];
  }

  function popup(target) {
    var p = target.feature.properties;
    var s = view.stats;
    var a = args();
    var value = valueFor(target.feature);
    var html = '<div class="map-popup"><h4>' + escapeHtml(p.name) + "</h4><dl>" +
      "<dt>" + escapeHtml(t.grid) + "</dt><dd>" + escapeHtml(p.code) + "</dd>" +
      "<dt>" + escapeHtml(t.community) + "</dt><dd>" + escapeHtml(p.community_name) + " (" +
      escapeHtml(p.community_code) + ")</dd>" +
      "<dt>" + escapeHtml(t.street) + "</dt><dd>" + escapeHtml(p.street_name) + " · " + escapeHtml(p.district_name) +
      "</dd><dt>" + escapeHtml(t.households) + "</dt><dd>" + escapeHtml(p.households) + "</dd>" +
      "<dt>" + escapeHtml(metricLabel(s.metric)) + (view.level !== "grids" ? " (" + escapeHtml(t.street) + ")" : "") +
      "</dt><dd>" + escapeHtml(format(value, s.unit)) + "</dd>";
    if (view.community) {
      html += "<dt>" + escapeHtml(s.unit === "count" ? t.community_total : t.community_mean) + "</dt><dd>" +
        escapeHtml(format(view.community.communities[p.community_code], s.unit)) + "</dd>";
    }
    html += '</dl><h5>' + escapeHtml(t.other_metrics) + '</h5><dl class="map-summary"><dd>…</dd></dl></div>';
    target.closeTooltip();
    target.bindPopup(html, { maxWidth: 360 }).openPopup();
    summary(a.from + "/" + a.to, a).then(function (all) {
      var rows = all.map(function (r) {
        return "<dt>" + escapeHtml(metricLabel(r.metric)) + "</dt><dd>" + escapeHtml(format(r.grids[p.code], r.unit)) +
          "</dd>";
      }).join("");
      var el = target.getPopup() && target.getPopup().getElement();
      var list = el && el.querySelector(".map-summary");
      if (list) { list.innerHTML = rows; }
    }).catch(function () { /* the figures above are still right */ });
  }

  var pending = 0;
  function refresh() {
    var a = args();
    var level = levelFor(a.category);
    var ticket = ++pending;
    document.getElementById("map-category-label").classList.toggle("disabled", !cfg.category_metrics.includes(a.metric));
    categoryEl.disabled = cfg.category_metrics.indexOf(a.metric) < 0;
    statusEl.className = "muted";
    statusEl.textContent = t.loading;
    var requests = [getJSON(statsUrl(level, a))];
    if (level === "grids") { requests.push(getJSON(statsUrl("communities", a))); }
    Promise.all(requests).then(function (answers) {
      if (ticket !== pending) { return; }  // a newer request is on its way
      view.stats = answers[0];
      view.community = answers[1] || null;
      view.level = level;
      view.palette = PALETTES[view.stats.unit] || PALETTES.count;
      var values = Object.keys(view.stats[level]).map(function (k) { return view.stats[level][k]; });
      view.classes = classify(values, view.stats.unit);
      if (layer) { layer.setStyle(style); }
      drawLegend();
      statusEl.textContent = "";
      document.body.dataset.mapState = "ready";
      document.body.dataset.mapMetric = view.stats.metric;
    }).catch(function (error) {
      if (ticket !== pending) { return; }
      statusEl.className = "error";
      statusEl.textContent = t.error + error.message;
      document.body.dataset.mapState = "error";
    });
  }

  getJSON(cfg.grids_url).then(function (collection) {
    layer = L.geoJSON(collection, {
      style: style,
      onEachFeature: function (feature, target) {
        target.bindTooltip(function () { return tooltip(target); }, { sticky: true });
        target.on("click", function () { popup(target); });
        target.on("mouseover", function () { target.setStyle({ weight: 2, color: "#1d2733" }); target.bringToFront(); });
        target.on("mouseout", function () { layer.resetStyle(target); });
      }
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [8, 8] });
    layer.eachLayer(function (target) {  // the grid code on each shape (drawn once the map has a view)
      var element = target.getElement && target.getElement();
      if (element) { element.setAttribute("data-code", target.feature.properties.code); }
    });
    document.body.dataset.gridCount = String(collection.features.length);
    refresh();
  }).catch(function (error) {
    statusEl.className = "error";
    statusEl.textContent = t.error + error.message;
  });

  controls.addEventListener("change", refresh);
})();
