// ringo-sim's offline timeline (tools/ringo-sim/timeline_page.js), inlined into the page
// that `ringo-sim run ... --trace FILE --trace-format html` writes, after the run's data
// (the JSON element #ringo-trace: meta, names, events as [t_ns, shard, kind, a, b]).
//
// Drawing is on a canvas, not in SVG: a run has thousands of events (echo: ~3,000, fan_in:
// ~4,000) and every zoom or pan redraws only what is visible, binary-searched per lane and
// thinned to one mark per pixel, where SVG would keep one DOM node per event alive. The
// lane labels, header and failure marker are DOM, so a test can read them. Every string
// from the trace reaches the page through textContent, never as markup.
'use strict';
(function () {
  var started = performance.now();
  var data = JSON.parse(document.getElementById('ringo-trace').textContent);
  var meta = data.meta;
  var names = data.names;
  var LANE_H = 22;
  var SEQ_SPAN = 281474976710656; // 2^48: routine ids are (home shard << 48) | sequence
  var DOORBELL_TAG = 65535;

  var K = {};
  names.kinds.forEach(function (n, i) { K[n] = i; });
  var ROUTINE_KINDS = [K.spawn, K.resume, K.finish, K.select_choice];

  var COLORS = {
    spawn: '#2a9d8f', resume: '#264653', finish: '#6c757d', op_submit: '#8ab17d', op_complete: '#e9a03b',
    op_cancel: '#f4a261', stale_cqe: '#b08968', msg_send: '#6d597a', msg_deliver: '#b56576',
    timer_fire: '#457b9d', kernel_step: '#c3c9cf', fault: '#d00000', select_choice: '#7b2cbf',
    work_handover: '#0096c7', blocking: '#588157'
  };
  var RUN_COLORS = ['#264653', '#1d6fa5', '#7b2cbf', '#b5179e', '#2a9d8f', '#8d6e00', '#c1440e', '#3a5a40'];

  // ---------------------------------------------------------------- values and names

  function big(v) { return BigInt(v); } // a is a number, or a string above 2^53
  function seqOf(id) { return Number(big(id) & BigInt(SEQ_SPAN - 1)); }
  function homeOf(id) { return Number(big(id) >> BigInt(48)); }
  function shardName(s) { return s < 0 ? 'kernel' : 'shard ' + s; }
  function fmtTime(ns) {
    var a = Math.abs(ns);
    if (a < 1000) return ns + ' ns';
    if (a < 1e6) return (ns / 1e3).toFixed(a < 1e4 ? 3 : 2) + ' \u00b5s';
    if (a < 1e9) return (ns / 1e6).toFixed(3) + ' ms';
    return (ns / 1e9).toFixed(4) + ' s';
  }
  function result(b) {
    var res = Number(BigInt.asIntN(32, big(b)));
    if (res >= 0) return 'res ' + res;
    return 'res ' + res + (names.errno[String(res)] ? ' ' + names.errno[String(res)] : '');
  }
  function tagName(tag) { return Number(tag) === DOORBELL_TAG ? 'doorbell' : 'tag ' + tag; }
  function routineName(id) { return 'routine #' + seqOf(id); }

  // What one event says, in words (the hover text).
  function detail(e) {
    var n = names.kinds[e.kind];
    switch (n) {
      case 'spawn': return 'spawned ' + routineName(e.a) + ' (home ' + shardName(homeOf(e.a)) + ')';
      case 'resume': return routineName(e.a) + ' resumed (woken)';
      case 'finish': return routineName(e.a) + (Number(e.b) ? ' finished by a panic' : ' finished');
      case 'op_submit': return 'submitted ' + (names.opcodes[Number(e.b)] || 'opcode ' + e.b) + ' op ' + e.a;
      case 'op_complete': return 'completed op ' + e.a + ': ' + result(e.b);
      case 'op_cancel': return 'cancel of op ' + e.a + (Number(e.b) ? ' (in flight: asks the ring)' : ' (still queued)');
      case 'stale_cqe': return 'stale completion for op ' + e.a + ' (its op was gone)';
      case 'msg_send': return 'message to shard ' + e.a + ', ' + tagName(e.b);
      case 'msg_deliver': return 'message from shard ' + e.a + ', ' + tagName(e.b);
      case 'timer_fire': return 'timer fired (tiebreak ' + e.a + ')';
      case 'kernel_step':
        return 'simulator: ' + (names.steps[String(e.a)] || 'step ' + e.a) + (Number(e.a) === 1 ? ' of op ' + e.b : '');
      case 'fault': return 'FAULT injected: ' + (names.faults[String(e.a)] || 'kind ' + e.a) + (Number(e.b) ? ' (' + e.b + ')' : '');
      case 'select_choice': return routineName(e.a) + "'s select took case " + e.b;
      case 'work_handover': return 'handed ' + e.b + ' routine(s) to shard ' + e.a;
      case 'blocking': return 'blocking call ' + e.a + ': ' + (names.blocking[Number(e.b)] || 'phase ' + e.b);
      default: return (n || 'kind ' + e.kind) + ' a=' + e.a + ' b=' + e.b;
    }
  }

  // ---------------------------------------------------------------- the model

  var events = data.events.map(function (r, i) {
    return { i: i, t: r[0], shard: r[1], kind: r[2], a: r[3], b: r[4], lane: null, by: null, op: null };
  });
  var lanes = [];
  var laneByKey = new Map();

  function laneFor(key, type, group, seq, label) {
    var l = laneByKey.get(key);
    if (!l) {
      l = { key: key, type: type, group: group, seq: seq, label: label, events: [], runs: [], wait: '' };
      laneByKey.set(key, l);
      lanes.push(l);
    }
    return l;
  }
  function laneOf(e) {
    if (ROUTINE_KINDS.indexOf(e.kind) >= 0) {
      return laneFor('routine:' + e.a, 'routine', homeOf(e.a), seqOf(e.a), routineName(e.a));
    }
    if (e.shard < 0) return laneFor('kernel', 'kernel', -1, -1, 'simulated kernel');
    return laneFor('shard:' + e.shard, 'shard', e.shard, -1, 'shard ' + e.shard);
  }
  events.forEach(function (e) {
    e.lane = laneOf(e);
    e.lane.events.push(e);
  });
  // Every routine's home shard gets its lane, even one whose own events are all routines'.
  lanes.slice().forEach(function (l) {
    if (l.type === 'routine') laneFor('shard:' + l.group, 'shard', l.group, -1, 'shard ' + l.group);
  });
  lanes.sort(function (x, y) {
    if (x.group !== y.group) return x.group - y.group;
    if (x.type !== y.type) return x.type === 'routine' ? 1 : -1;
    return x.seq - y.seq;
  });
  lanes.forEach(function (l, idx) { l.index = idx; });

  // Runs: a routine runs from its resume to the next scheduling point: another resume or a
  // finish on its shard, or any simulator step (the simulator runs one shard's tick at a
  // time, on one thread, so a step ends every tick). Virtual time does not move inside a
  // tick, so this is an order, not a duration. Ended by anything but its own finish, the
  // routine is suspended: parked on a wait, or queued again; its next resume wakes it.
  (function findRuns() {
    var current = new Map(); // shard -> { lane, from }
    function end(shard, at, how) {
      var c = current.get(shard);
      if (!c) return;
      c.lane.runs.push({ from: c.from, to: at, how: how, shard: shard }); // to: the event that ended it
      current.delete(shard);
    }
    events.forEach(function (e) {
      var n = names.kinds[e.kind];
      if (n === 'resume') {
        end(e.shard, e.i, 'parked');
        current.set(e.shard, { lane: e.lane, from: e.i });
      } else if (n === 'finish') {
        var c = current.get(e.shard);
        end(e.shard, e.i, c && c.lane === e.lane ? (Number(e.b) ? 'panicked' : 'finished') : 'parked');
      } else if (n === 'kernel_step') {
        Array.from(current.keys()).forEach(function (shard) { end(shard, e.i, 'parked'); });
      } else if (current.has(e.shard)) {
        e.by = current.get(e.shard).lane;
      }
    });
    current.forEach(function (c, shard) { end(shard, events.length, 'running at the end'); });
  })();

  // Ops: a completion knows its submission (same user_data; a multishot op has several).
  var ops = [];
  (function pairOps() {
    var submitted = new Map();
    events.forEach(function (e) {
      var n = names.kinds[e.kind];
      if (n === 'op_submit') submitted.set(e.shard + ':' + e.a, e);
      if (n === 'op_complete') {
        var s = submitted.get(e.shard + ':' + e.a);
        if (s) {
          e.op = s;
          ops.push({ from: s, to: e });
        }
      }
    });
  })();

  // A deadlock report names every blocked routine and its wait: "shard 0 routine #2:
  // chan send (2), awaited by #1". The routine's lane says it.
  (function waits() {
    var re = /shard (\d+) routine #(\d+): ([^\n]*)/g;
    var m;
    while ((m = re.exec(meta.message || '')) !== null) {
      var shard = Number(m[1]), seq = Number(m[2]);
      var best = null;
      lanes.forEach(function (l) {
        if (l.type !== 'routine' || l.seq !== seq) return;
        var last = l.runs.length ? l.runs[l.runs.length - 1].shard : l.group;
        if (!best || last === shard) best = l;
      });
      if (best) best.wait = m[3];
    }
  })();

  // ---------------------------------------------------------------- the x axis

  // Three ways to place event i: u[i]. "spread": the run's instants in order, each as wide
  // as its events (one unit each, in trace order), the gaps between instants as wide in
  // total as all events (proportional to the virtual time that passed). "linear": virtual
  // ns, events of one instant 1 ns apart (as the Chrome export). "order": the index.
  var axisMode = 'spread';
  var u = new Float64Array(events.length);
  var instants = []; // { first: event index, t }
  (function findInstants() {
    var last = null;
    events.forEach(function (e) {
      // The simulator's clock never goes back; should a trace's, its events stay in order.
      if (last === null || e.t > last) {
        instants.push({ first: e.i, t: e.t });
        last = e.t;
      }
    });
  })();
  var t0 = events.length ? events[0].t : 0;
  var tEnd = instants.length ? instants[instants.length - 1].t : 0;

  function place(mode) {
    axisMode = mode;
    var N = Math.max(1, events.length);
    var perNs = tEnd > t0 ? N / (tEnd - t0) : 0;
    instants.forEach(function (inst, j) {
      var stop = j + 1 < instants.length ? instants[j + 1].first : events.length;
      for (var i = inst.first; i < stop; i++) {
        var k = i - inst.first;
        if (mode === 'spread') u[i] = inst.first + (inst.t - t0) * perNs + k;
        else if (mode === 'linear') u[i] = inst.t - t0 + k;
        else u[i] = i;
      }
    });
  }

  var view = { lo: 0, hi: 1 };
  function extent() {
    if (!events.length) return { lo: 0, hi: 1 };
    var lo = u[0], hi = u[events.length - 1];
    var pad = Math.max(1, (hi - lo) * 0.02);
    return { lo: lo - pad, hi: hi + pad };
  }
  function fit() { view = extent(); }
  function minSpan() { return 4; } // units: never closer than a few events or ns

  // ---------------------------------------------------------------- the page around it

  var el = function (id) { return document.getElementById(id); };
  var canvas = el('canvas'), axis = el('axis'), lanesBox = el('lanes'), plot = el('plot'), stage = el('stage');
  var hidden = new Set();

  function text(tag, content, cls) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (cls) node.className = cls;
    return node;
  }

  function fillHeader() {
    el('verdict').textContent = meta.failed ? 'FAILED' : 'passed';
    el('verdict').className = 'badge ' + (meta.failed ? 'fail' : 'pass');
    el('title').textContent = meta.scenario + ' \u2014 ' + meta.description;
    var facts = [['seed', meta.seed], ['faults', meta.faults],
      ['strategy', meta.strategy + (meta.strategy === 'pct' ? ' (depth ' + meta.depth + ')' : '')],
      ['buggify', meta.buggify_ppm + ' ppm'], ['shards', meta.shards], ['events', events.length],
      ['virtual time', fmtTime(meta.virtual_time_ns)], ['trace hash', meta.hash]];
    facts.forEach(function (f) {
      var s = document.createElement('span');
      s.appendChild(text('span', f[0] + ' '));
      s.appendChild(text('b', String(f[1])));
      el('meta').appendChild(s);
    });
    var replay = document.createElement('span');
    replay.appendChild(text('span', 'replay '));
    replay.appendChild(text('code', meta.replay));
    el('meta').appendChild(replay);
    if (meta.failed) {
      el('why').hidden = false;
      el('why').textContent = 'failed: ' + meta.why;
    }
    el('report-text').textContent = meta.summary + (meta.message ? '\n' + meta.message : '');
    // Open when it says more than the failure line above (a failed check; not a deadlock,
    // whose report is the failure).
    el('report').open = meta.failed && !!meta.message && meta.why.indexOf(meta.message.trim()) < 0;
  }

  function fillLabels() {
    var box = el('labels');
    lanes.forEach(function (l) {
      var d = document.createElement('div');
      d.className = 'lane ' + l.type;
      d.setAttribute('data-lane', l.key);
      d.setAttribute('data-events', String(l.events.length));
      d.appendChild(text('span', l.label));
      if (l.wait) d.appendChild(text('span', l.wait, 'wait'));
      d.title = l.label + (l.wait ? ': ' + l.wait : '') + ' \u2014 ' + l.events.length + ' events';
      box.appendChild(d);
    });
    plot.style.height = lanes.length * LANE_H + 'px';
  }

  function fillLegend() {
    var counts = {};
    events.forEach(function (e) { counts[e.kind] = (counts[e.kind] || 0) + 1; });
    Object.keys(counts).map(Number).sort(function (x, y) { return x - y; }).forEach(function (k) {
      var n = names.kinds[k];
      var label = document.createElement('label');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = true;
      box.addEventListener('change', function () {
        if (box.checked) hidden.delete(k); else hidden.add(k);
        draw();
      });
      var sw = text('span', '', 'swatch');
      sw.style.background = COLORS[n] || '#000';
      label.appendChild(box);
      label.appendChild(sw);
      label.appendChild(text('span', n + ' ' + counts[k]));
      el('legend').appendChild(label);
    });
  }

  // ---------------------------------------------------------------- drawing

  var W = 0, H = 0, dpr = 1;
  function x(uu) { return (uu - view.lo) / (view.hi - view.lo) * W; }
  function uAt(px) { return view.lo + px / W * (view.hi - view.lo); }

  function size() {
    dpr = window.devicePixelRatio || 1;
    var top = lanesBox.getBoundingClientRect().top;
    var avail = Math.max(160, window.innerHeight - top - 2);
    lanesBox.style.height = Math.min(avail, lanes.length * LANE_H + 2) + 'px';
    W = Math.max(100, plot.clientWidth);
    H = Math.min(lanesBox.clientHeight, lanes.length * LANE_H);
    stage.style.height = H + 'px';
    [[canvas, H], [axis, 26]].forEach(function (p) {
      p[0].width = Math.round(W * dpr);
      p[0].height = Math.round(p[1] * dpr);
      p[0].style.width = W + 'px';
      p[0].style.height = p[1] + 'px';
    });
  }

  // The first index in arr (sorted by u) whose u is >= v.
  function lowerBound(arr, v) {
    var lo = 0, hi = arr.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (u[arr[mid].i] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function drawAxis() {
    var g = axis.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, 26);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#444';
    g.strokeStyle = '#888';
    var lastX = -1e9;
    function tick(px, label) {
      if (px < 0 || px > W || px - lastX < 90) return;
      g.beginPath(); g.moveTo(px + 0.5, 18); g.lineTo(px + 0.5, 26); g.stroke();
      g.fillText(label, Math.min(px + 2, W - g.measureText(label).width - 2), 13);
      lastX = px;
    }
    if (axisMode === 'order') {
      var step = niceStep((view.hi - view.lo) / (W / 90));
      for (var v = Math.ceil(view.lo / step) * step; v <= view.hi; v += step) tick(x(v), '#' + v);
      el('axis-note').textContent = 'x: event index';
    } else if (axisMode === 'linear') {
      var st = niceStep((view.hi - view.lo) / (W / 90));
      for (var w = Math.max(0, Math.ceil(view.lo / st) * st); w <= view.hi; w += st) tick(x(w), fmtTime(t0 + w));
      el('axis-note').textContent = 'x: virtual time, to scale';
    } else {
      instants.forEach(function (inst) { tick(x(u[inst.first]), fmtTime(inst.t)); });
      el('axis-note').textContent = 'x: virtual time (instants spread)';
    }
  }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
    var m = raw / p;
    return Math.max(1, (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p);
  }

  function drawLaneBackgrounds(g, first, last, scroll) {
    for (var li = first; li <= last; li++) {
      var l = lanes[li];
      var y = li * LANE_H - scroll;
      g.fillStyle = l.type === 'kernel' ? '#f3f0fa' : l.type === 'shard' ? '#eef4fb' : li % 2 ? '#fafbfc' : '#fff';
      g.fillRect(0, y, W, LANE_H);
      g.fillStyle = '#eef1f4';
      g.fillRect(0, y + LANE_H - 1, W, 1);
    }
  }

  // A routine's life: queued (spawn to first run), runs as bars, parked between them (a
  // thin line), blocked at the end when it never finished.
  function drawRoutine(g, l, y) {
    var mid = y + LANE_H / 2;
    var color = RUN_COLORS[l.group % RUN_COLORS.length];
    var spawned = l.events.length && names.kinds[l.events[0].kind] === 'spawn';
    var prevEnd = spawned ? u[l.events[0].i] : null;
    var queued = spawned;
    g.lineWidth = 1;
    l.runs.forEach(function (r) {
      if (prevEnd !== null) line(g, x(prevEnd), x(u[r.from]), mid, '#9aa5b1', queued ? [2, 3] : []);
      queued = false;
      var x0 = x(u[r.from]), x1 = Math.max(x(runEnd(r)), x0 + 3);
      if (x1 >= 0 && x0 <= W) {
        g.fillStyle = color;
        g.fillRect(x0, y + 5, x1 - x0, LANE_H - 10);
        if (r.how === 'parked') { g.fillStyle = '#f4a261'; g.fillRect(x1 - 2, y + 3, 2, LANE_H - 6); }
        if (r.how === 'panicked') { g.fillStyle = '#d00000'; g.fillRect(x1 - 3, y + 2, 3, LANE_H - 4); }
      }
      prevEnd = r.how === 'parked' || r.how === 'running at the end' ? runEnd(r) : null;
    });
    if (prevEnd !== null && events.length) {
      line(g, x(prevEnd), W, mid, l.wait ? '#c62828' : '#9aa5b1', l.wait ? [5, 3] : []);
    }
  }
  // A run ends just after its last event: the time up to the event that ended it passed
  // while the routine was not running.
  function runEnd(r) { return Math.max(u[r.from], u[r.to - 1]) + 0.8; }
  function line(g, x0, x1, yy, color, dash) {
    if (x1 < 0 || x0 > W) return;
    g.strokeStyle = color;
    g.setLineDash(dash);
    g.beginPath(); g.moveTo(Math.max(0, x0), yy + 0.5); g.lineTo(Math.min(W, x1), yy + 0.5); g.stroke();
    g.setLineDash([]);
  }

  // Ops in flight on a shard lane: a thin line from submission to completion.
  function drawOps(g, scroll) {
    if (hidden.has(K.op_submit) && hidden.has(K.op_complete)) return;
    g.lineWidth = 1;
    ops.forEach(function (o) {
      var x0 = x(u[o.from.i]), x1 = x(u[o.to.i]);
      if (x1 < 0 || x0 > W) return;
      var y = o.from.lane.index * LANE_H - scroll + LANE_H - 4;
      if (y < -LANE_H || y > H + LANE_H) return;
      g.strokeStyle = 'rgba(233,160,59,0.55)';
      g.beginPath(); g.moveTo(x0, y + 0.5); g.lineTo(x1, y + 0.5); g.stroke();
    });
  }

  function drawMarks(g, l, y) {
    var from = lowerBound(l.events, view.lo), to = lowerBound(l.events, view.hi + 1e-9);
    var lastPx = {};
    for (var j = Math.max(0, from - 1); j < Math.min(l.events.length, to + 1); j++) {
      var e = l.events[j];
      if (hidden.has(e.kind)) continue;
      var px = Math.round(x(u[e.i]));
      if (lastPx[e.kind] === px) continue; // one mark per pixel and kind: thousands stay fast
      lastPx[e.kind] = px;
      mark(g, e, px, y);
    }
  }
  function mark(g, e, px, y) {
    var n = names.kinds[e.kind];
    g.fillStyle = COLORS[n] || '#000';
    if (n === 'kernel_step') { g.fillRect(px, y + 8, 1.5, LANE_H - 16); return; }
    if (n === 'fault' || n === 'select_choice') { diamond(g, px, y + LANE_H / 2, n === 'fault' ? 6 : 5); return; }
    if (n === 'spawn') { g.beginPath(); g.arc(px, y + LANE_H / 2, 4, 0, 7); g.fill(); return; }
    if (n === 'finish') { g.fillRect(px - 1, y + 3, 3, LANE_H - 6); return; }
    if (n === 'resume') { g.beginPath(); g.moveTo(px, y + 4); g.lineTo(px + 6, y + LANE_H / 2); g.lineTo(px, y + LANE_H - 4); g.fill(); return; }
    if (n === 'op_complete' && Number(BigInt.asIntN(32, big(e.b))) < 0) g.fillStyle = '#d00000';
    g.fillRect(px - 1.5, y + 4, 3, LANE_H - 9);
  }
  function diamond(g, cx, cy, r) {
    g.beginPath(); g.moveTo(cx, cy - r); g.lineTo(cx + r, cy); g.lineTo(cx, cy + r); g.lineTo(cx - r, cy); g.fill();
  }

  // Faults: a red line through every lane. The failure: a red line at the last event.
  function drawVerticals(g) {
    if (!hidden.has(K.fault)) {
      events.forEach(function (e) {
        if (e.kind !== K.fault) return;
        var px = x(u[e.i]);
        if (px >= 0 && px <= W) { g.fillStyle = 'rgba(208,0,0,0.18)'; g.fillRect(px - 0.5, 0, 1, H); }
      });
    }
    var marker = el('failure-marker');
    if (!meta.failed || !events.length) return;
    var fx = x(u[events.length - 1]);
    g.fillStyle = '#c62828';
    g.fillRect(fx - 1, 0, 2, H);
    marker.style.left = Math.max(0, Math.min(W, fx)) + 'px';
    marker.className = fx < W * 0.45 ? 'flip' : '';
    marker.hidden = fx < 0 || fx > W;
  }

  function draw() {
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    var scroll = lanesBox.scrollTop;
    var first = Math.max(0, Math.floor(scroll / LANE_H));
    var last = Math.min(lanes.length - 1, Math.floor((scroll + H) / LANE_H));
    drawLaneBackgrounds(g, first, last, scroll);
    drawOps(g, scroll);
    for (var li = first; li <= last; li++) {
      var y = li * LANE_H - scroll;
      if (lanes[li].type === 'routine') drawRoutine(g, lanes[li], y);
      drawMarks(g, lanes[li], y);
    }
    if (meta.failed && events.length) { // the last event, ringed
      var e = events[events.length - 1];
      var ly = e.lane.index * LANE_H - scroll + LANE_H / 2;
      g.strokeStyle = '#c62828'; g.lineWidth = 2;
      g.beginPath(); g.arc(x(u[e.i]), ly, 8, 0, 7); g.stroke();
    }
    drawVerticals(g);
    drawAxis();
  }

  // ---------------------------------------------------------------- interaction

  function zoom(factor, atPx) {
    var c = uAt(atPx === undefined ? W / 2 : atPx);
    var span = Math.max(minSpan(), (view.hi - view.lo) * factor);
    var full = extent();
    span = Math.min(span, (full.hi - full.lo) * 4);
    var f = (c - view.lo) / (view.hi - view.lo);
    view = { lo: c - f * span, hi: c - f * span + span };
    draw();
  }
  function zoomToEnd() {
    var full = extent();
    var n = events.length;
    var from = u[Math.max(0, n - 60)];
    view = { lo: from - Math.max(1, (full.hi - from) * 0.05), hi: full.hi };
    draw();
  }
  function setAxis(mode) {
    place(mode);
    fit();
    ['spread', 'linear', 'order'].forEach(function (m) { el('axis-' + m).className = m === mode ? 'on' : ''; });
    draw();
  }

  // The event under the pointer (within 6 px), or the routine run it is on.
  function hit(px, py) {
    var li = Math.floor((py + lanesBox.scrollTop) / LANE_H);
    var l = lanes[li];
    if (!l) return null;
    var j = lowerBound(l.events, uAt(px));
    var best = null, bestD = 7;
    [j - 1, j].forEach(function (k) {
      var e = l.events[k];
      if (!e || hidden.has(e.kind)) return;
      var d = Math.abs(x(u[e.i]) - px);
      if (d < bestD) { best = e; bestD = d; }
    });
    if (best) return { lane: l, event: best };
    var run = l.runs.filter(function (r) { return x(u[r.from]) <= px && px <= Math.max(x(runEnd(r)), x(u[r.from]) + 3); })[0];
    return run ? { lane: l, run: run } : null;
  }
  function describeHit(h) {
    if (h.run) {
      var r = h.run;
      return h.lane.label + ' ran on ' + shardName(r.shard) + ' from event #' + r.from + ' to #' + (r.to - 1) +
        ' (' + fmtTime(events[r.from].t) + ')\nthen ' + (r.how === 'parked' ? 'suspended (parked, or queued again)' : r.how);
    }
    var e = h.event;
    var lines = ['#' + e.i + '  ' + fmtTime(e.t) + '  ' + shardName(e.shard) + '  ' + names.kinds[e.kind],
      detail(e)];
    if (e.op) lines.push(names.opcodes[Number(e.op.b)] + ' submitted at #' + e.op.i + ', took ' + fmtTime(e.t - e.op.t));
    if (e.by) lines.push('while ' + e.by.label + ' ran');
    if (meta.failed && e.i === events.length - 1) lines.push('LAST EVENT: the run failed here: ' + meta.why);
    return lines.join('\n');
  }

  function wire() {
    var tip = el('tip');
    var drag = null;
    el('zoom-in').onclick = function () { zoom(1 / 2); };
    el('zoom-out').onclick = function () { zoom(2); };
    el('zoom-fit').onclick = function () { fit(); draw(); };
    el('zoom-end').onclick = zoomToEnd;
    ['spread', 'linear', 'order'].forEach(function (m) { el('axis-' + m).onclick = function () { setAxis(m); }; });
    canvas.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var r = canvas.getBoundingClientRect();
      zoom(ev.deltaY > 0 ? 1.25 : 0.8, ev.clientX - r.left);
    }, { passive: false });
    canvas.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, view: view }; });
    window.addEventListener('mouseup', function () { drag = null; });
    window.addEventListener('mousemove', function (ev) {
      if (drag) {
        var du = (ev.clientX - drag.x) / W * (drag.view.hi - drag.view.lo);
        view = { lo: drag.view.lo - du, hi: drag.view.hi - du };
        draw();
      }
    });
    canvas.addEventListener('mousemove', function (ev) {
      var r = canvas.getBoundingClientRect();
      var h = drag ? null : hit(ev.clientX - r.left, ev.clientY - r.top);
      tip.hidden = !h;
      if (!h) return;
      tip.textContent = describeHit(h);
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + 'px';
      tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 4) + 'px';
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
    lanesBox.addEventListener('scroll', draw);
    window.addEventListener('resize', function () { size(); draw(); });
    window.addEventListener('keydown', function (ev) {
      if (ev.key === '+' || ev.key === '=') zoom(1 / 2);
      else if (ev.key === '-') zoom(2);
      else if (ev.key === '0') { fit(); draw(); }
    });
  }

  function failureMarker() {
    if (!meta.failed) return;
    var m = document.createElement('div');
    m.id = 'failure-marker';
    m.textContent = '\u2716 failed here: ' + meta.why;
    m.title = meta.why;
    el('marker-layer').appendChild(m);
  }

  fillHeader();
  fillLabels();
  fillLegend();
  failureMarker();
  var initial = /axis=(spread|linear|order)/.exec(location.hash);
  place(initial ? initial[1] : 'spread');
  ['spread', 'linear', 'order'].forEach(function (m) { el('axis-' + m).className = m === axisMode ? 'on' : ''; });
  size();
  fit();
  if (/view=end/.test(location.hash)) zoomToEnd();
  draw();
  wire();
  var status = el('timeline-status');
  status.setAttribute('data-lanes', String(lanes.length));
  status.setAttribute('data-events', String(events.length));
  status.setAttribute('data-render-ms', (performance.now() - started).toFixed(1)); // parse, model, first draw
  status.setAttribute('data-rendered', window.ringoTimelineErrors.length ? 'no' : 'yes');
})();
