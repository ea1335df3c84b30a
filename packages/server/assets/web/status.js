// mkvserve status page (inlined by src/pages/status-page.ts; the CSP allows exactly this script). Polls
// the read-only JSON API every 2 s (not while the tab is hidden; backing off up to 30 s on errors) and
// updates the tables in place. With an admin token, it is asked for once and kept in this tab's
// sessionStorage only. Text is only ever set with textContent.
(function () {
  'use strict';
  var EVERY_MS = 2000;
  var MAX_BACKOFF_MS = 30000;
  var TIMEOUT_MS = 5000;
  var KEY = 'mkvserve-admin-token';
  var body = document.body;
  var access = body.getAttribute('data-access');
  var maxClients = Number(body.getAttribute('data-max-clients')) || 100;
  var updated = document.getElementById('updated');
  var form = document.getElementById('token-form');
  var tokenInput = document.getElementById('token');
  var mountsBody = document.querySelector('#mounts tbody');
  var clientsBody = document.querySelector('#clients tbody');
  var clientsCount = document.getElementById('clients-count');
  var token = null;
  try {
    token = sessionStorage.getItem(KEY);
  } catch (_e) {
    token = null;
  }
  var timer = 0;
  var failures = 0;
  var polls = 0;
  var last = new Map(); // mount -> { at, bytesSent } for the outgoing bitrate

  function formatBitrate(bps) {
    if (!isFinite(bps) || bps <= 0) return '0 kbit/s';
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
    return Math.round(bps / 1e3) + ' kbit/s';
  }
  function formatBytes(n) {
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB'];
    var v = n / 1024;
    var i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return v.toFixed(1) + ' ' + units[i];
  }
  function cell(tr, text, cls, field, header) {
    var c = document.createElement(header ? 'th' : 'td');
    if (header) c.scope = 'row';
    if (cls) c.className = cls;
    if (field) c.setAttribute('data-field', field);
    if (text instanceof Node) c.appendChild(text);
    else c.textContent = text;
    tr.appendChild(c);
    return c;
  }

  function mountRow(m, now) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-mount', m.name);
    var a = document.createElement('a');
    a.href = '/' + encodeURIComponent(m.name) + '/player';
    a.textContent = m.name;
    cell(tr, a, '', '', true);
    cell(tr, m.input.name, '', 'input');
    cell(tr, m.input.state, '', 'state');
    cell(tr, String(m.clients), 'num', 'clients');
    cell(tr, String(m.waiting), 'num', 'waiting');
    cell(tr, formatBitrate(m.input.bitrate), 'num', 'bitrate');
    var prev = last.get(m.name);
    var out = '–';
    if (prev && now > prev.at && m.bytesSent >= prev.bytesSent) {
      out = formatBitrate(((m.bytesSent - prev.bytesSent) * 8 * 1000) / (now - prev.at));
    }
    last.set(m.name, { at: now, bytesSent: m.bytesSent });
    cell(tr, out, 'num', 'out');
    cell(tr, formatBytes(m.bytesSent), 'num', 'sent');
    cell(tr, m.skips + ' / ' + m.drops + ' / ' + m.refused, 'num', 'drops');
    return tr;
  }

  function clientRow(c) {
    var tr = document.createElement('tr');
    cell(tr, String(c.id), 'num');
    cell(tr, c.mount);
    cell(tr, c.address);
    cell(tr, Math.round(c.durationSec) + ' s', 'num');
    cell(tr, formatBytes(c.bytesSent), 'num');
    cell(tr, c.lagMs + ' ms', 'num');
    cell(tr, c.state);
    return tr;
  }

  function render(st) {
    var now = Date.now();
    var rows = document.createDocumentFragment();
    for (var i = 0; i < st.mounts.length; i++) rows.appendChild(mountRow(st.mounts[i], now));
    mountsBody.replaceChildren(rows);
    var crow = document.createDocumentFragment();
    var n = Math.min(st.clients.length, maxClients);
    for (var j = 0; j < n; j++) crow.appendChild(clientRow(st.clients[j]));
    clientsBody.replaceChildren(crow);
    var total = st.totals.clients;
    clientsCount.textContent =
      total + ' client' + (total === 1 ? '' : 's') + ' connected' + (total > n ? ' (the first ' + n + ' listed)' : '');
    polls++;
    body.setAttribute('data-polls', String(polls));
    updated.textContent = 'Updated ' + new Date(now).toISOString().slice(11, 19) + ' UTC';
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function needToken(message) {
    form.hidden = false;
    updated.textContent = message;
  }

  function poll() {
    if (document.hidden) return; // resumed by visibilitychange
    var ctl = new AbortController();
    var abort = setTimeout(function () {
      ctl.abort();
    }, TIMEOUT_MS);
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    fetch('/api/status', { headers: headers, cache: 'no-store', signal: ctl.signal })
      .then(function (res) {
        if (res.status === 401) {
          token = null;
          try {
            sessionStorage.removeItem(KEY);
          } catch (_e) {
            /* storage unavailable */
          }
          needToken('That token was not accepted: enter the admin token.');
          return null;
        }
        if (res.status === 403) {
          updated.textContent =
            'Status needs an admin token when the server listens beyond loopback: start it with --admin-token-file FILE (or set MKVSERVE_ADMIN_TOKEN).';
          return null;
        }
        if (res.status === 404) {
          updated.textContent =
            'This address does not serve the status API (is there a separate admin listener?): open /status there.';
          return null;
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (st) {
        clearTimeout(abort);
        if (st === null) return;
        failures = 0;
        form.hidden = true;
        render(st);
        schedule(EVERY_MS);
      })
      .catch(function (err) {
        clearTimeout(abort);
        failures++;
        var wait = Math.min(MAX_BACKOFF_MS, EVERY_MS * Math.pow(2, failures));
        updated.textContent =
          'Could not reach the server (' +
          (err && err.name === 'AbortError' ? 'timed out' : err.message) +
          '); trying again in ' +
          Math.round(wait / 1000) +
          ' s.';
        schedule(wait);
      });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = tokenInput.value;
    tokenInput.value = '';
    try {
      sessionStorage.setItem(KEY, token);
    } catch (_e) {
      /* storage unavailable: the token lasts until the page is left */
    }
    form.hidden = true;
    poll();
  });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) schedule(0);
  });

  if (access === 'forbidden') return; // the page says how to configure a token
  if (access === 'token' && !token) {
    needToken('Enter the admin token to see the status.');
    return;
  }
  schedule(0);
})();
