// zwsd demo page: one WebSocket to /ws/<name> on the host that served the
// page, speaking zwsd-protocol(7). No framework, no build step. Everything a
// peer sends is shown with textContent, never parsed as HTML.
//
// What it keeps, and where:
//   sessionStorage zwsd-demo:user          this tab's name: a reload signs in again
//   localStorage   zwsd-demo:pos:<name>    "EPOCH:SEQ" of the last message of the
//                                          user's stream: a reload resumes with
//                                          ?since= and shows what was missed
//   sessionStorage zwsd-demo:groups:<name> {group: "EPOCH:SEQ" or ""}: rejoined,
//                                          with since, after a reload
//   localStorage   zwsd-demo:watch:<name>  the people whose presence is shown
//
// Progress bar: a chat to this user whose msg is an object with a number
// "progress" (0-100) and, optionally, a string "label", as a backend pushes it:
//   {"receiver":"bob","msg":{"progress":40,"label":"Rendering"}}
'use strict';

(() => {
  const NAME_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
  const PRESENCE_MS = 5000;
  const RETRY_MAX_MS = 30000;
  const LOG_MAX = 500;

  const $ = (id) => document.getElementById(id);
  const el = {
    conn: $('conn'), notice: $('notice'), noticeText: $('notice-text'),
    noticeClose: $('notice-close'), login: $('login'), name: $('name'),
    connect: $('connect'), disconnect: $('disconnect'), session: $('session'),
    position: $('position'), watch: $('watch'), watchName: $('watch-name'),
    people: $('people'), peopleEmpty: $('people-empty'), join: $('join'),
    groupName: $('group-name'), groups: $('groups'), progress: $('progress'),
    progressText: $('progress-text'), log: $('log'), compose: $('compose'), to: $('to'),
    targets: $('targets'), text: $('text'),
  };

  // ---- storage (may be off: private modes, policies) -----------------------
  const store = {
    get(area, key) {
      try { return window[area].getItem(key); } catch (e) { return null; }
    },
    set(area, key, value) {
      try {
        if (value === null) window[area].removeItem(key);
        else window[area].setItem(key, value);
      } catch (e) { /* not kept: the page still works */ }
    },
    json(area, key, fallback) {
      try { return JSON.parse(store.get(area, key)) || fallback; } catch (e) { return fallback; }
    },
  };
  const K_USER = 'zwsd-demo:user';
  const kPos = (u) => 'zwsd-demo:pos:' + u;
  const kGroups = (u) => 'zwsd-demo:groups:' + u;
  const kWatch = (u) => 'zwsd-demo:watch:' + u;

  // ---- state ----------------------------------------------------------------
  let ws = null;            // the current socket; frames of older ones are ignored
  let me = null;            // the name signed in with (or trying to)
  let welcomed = false;     // the current socket got its welcome
  let resumedFrom = null;   // the since= the current socket asked for
  let replayed = 0;         // frames that came before the welcome (a resume)
  let wantOpen = false;     // reconnect when the connection drops
  let retryMs = 0;
  let retryTimer = null;
  let presenceTimer = null;
  let nextId = 1;
  const pending = new Map();   // frame id -> {kind, target, item}
  const watched = new Map();   // user -> {item, state}
  const groups = new Map();    // group -> {item, pos, joined}
  const sentMids = new Set();  // mids of what this page sent: its own echo is not shown twice

  // ---- small helpers --------------------------------------------------------
  function newId(prefix) { return prefix + (nextId++); }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  function clock(iso) {
    const d = iso ? new Date(iso) : new Date();
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function show(msg) {
    return typeof msg === 'string' ? msg : JSON.stringify(msg);
  }

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function setConn(text, state) {
    el.conn.textContent = text;
    el.conn.dataset.state = state;
  }

  // A notice in plain words: in the banner (role=alert) and in the log. A
  // sticky one (about the connection) stays until the next; others go with
  // the next thing that works.
  function notice(text, kind, sticky) {
    el.noticeText.textContent = text;
    el.notice.dataset.kind = kind || 'warn';
    el.notice.dataset.sticky = sticky ? '1' : '';
    el.notice.hidden = false;
    note(text, kind === 'bad');
  }

  function noticeDone() {
    if (!el.notice.dataset.sticky) el.notice.hidden = true;
  }

  function note(text, bad) {
    const li = node('li', 'note' + (bad ? ' bad' : ''));
    li.append(node('time', null, clock()), ' ', text);
    addToLog(li);
  }

  function addToLog(li) {
    const atEnd = el.log.scrollTop + el.log.clientHeight >= el.log.scrollHeight - 8;
    el.log.append(li);
    while (el.log.children.length > LOG_MAX) el.log.firstElementChild.remove();
    if (atEnd) el.log.scrollTop = el.log.scrollHeight;
  }

  // One message in the log. who: "alice → bob", "alice in #ops".
  function message(who, msg, opts) {
    const li = node('li', opts.out ? 'out' : 'in');
    if (opts.missed) li.classList.add('missed');
    const meta = node('span', 'meta');
    meta.append(node('time', null, clock(opts.time)), ' ', who);
    if (opts.missed) meta.append(' (while you were away)');
    li.append(meta, node('span', 'body', show(msg)));
    if (opts.status) {
      const st = node('span', 'status', opts.status);
      st.dataset.status = opts.status;
      li.append(st);
    }
    addToLog(li);
    return li;
  }

  function setStatus(item, status) {
    const st = item && item.querySelector('.status');
    if (!st) return;
    st.textContent = status;
    st.dataset.status = status;
  }

  // ---- resume positions -------------------------------------------------------
  // "EPOCH:SEQ" -> [epoch, seq], or null when it is not one the server
  // would take (an epoch is 1-32 bytes of 0x21-0x7E)
  function parsePos(p) {
    const i = p ? p.lastIndexOf(':') : -1;
    if (i <= 0 || !/^[\x21-\x7e]{1,32}$/.test(p.slice(0, i))) return null;
    const seq = Number(p.slice(i + 1));
    return /^[0-9]{1,20}$/.test(p.slice(i + 1)) && Number.isSafeInteger(seq) ? [p.slice(0, i), seq] : null;
  }

  // The later of two positions: a new epoch replaces the old one outright.
  function later(cur, epoch, seq) {
    if (typeof epoch !== 'string' || typeof seq !== 'number') return cur;
    const c = parsePos(cur);
    if (c && c[0] === epoch && c[1] >= seq) return cur;
    return epoch + ':' + seq;
  }

  function notePosition(epoch, seq) {
    const cur = store.get('localStorage', kPos(me));
    const next = later(cur, epoch, seq);
    if (next !== cur) store.set('localStorage', kPos(me), next);
    el.position.textContent = next || 'none';
  }

  function saveGroups() {
    const out = {};
    for (const [g, s] of groups) out[g] = s.pos || '';
    store.set('sessionStorage', kGroups(me), JSON.stringify(out));
  }

  // ---- people and presence --------------------------------------------------
  function refreshTargets() {
    el.targets.replaceChildren();
    for (const u of watched.keys()) el.targets.append(new Option(u, u));
    for (const g of groups.keys()) el.targets.append(new Option('#' + g, '#' + g));
  }

  function watch(user, ask) {
    if (!NAME_RE.test(user) || user === me || watched.has(user)) return;
    if (watched.size >= 100) return;            // presence asks for at most 100
    const li = node('li');
    const who = node('span', 'who', user);
    const state = node('span', 'state', 'unknown');
    const write = node('button', 'quiet', 'Write');
    write.type = 'button';
    write.setAttribute('aria-label', 'Write to ' + user);
    write.addEventListener('click', () => { el.to.value = user; el.text.focus(); });
    li.append(who, state, write);
    el.people.append(li);
    el.peopleEmpty.hidden = true;
    watched.set(user, { item: li, state });
    store.set('localStorage', kWatch(me), JSON.stringify([...watched.keys()]));
    refreshTargets();
    if (ask) askPresence();
  }

  function askPresence() {
    if (!welcomed || watched.size === 0) return;
    const id = newId('p');
    if (send({ type: 'presence', users: [...watched.keys()], id })) pending.set(id, { kind: 'presence' });
  }

  function startPresence() {
    stopPresence();
    askPresence();
    presenceTimer = setInterval(askPresence, PRESENCE_MS);
  }

  function stopPresence() {
    if (presenceTimer) clearInterval(presenceTimer);
    presenceTimer = null;
    for (const w of watched.values()) {
      w.state.textContent = 'unknown';
      delete w.state.dataset.online;
    }
  }

  function onPresence(f) {
    const online = f.online || {};
    for (const [u, w] of watched) {
      if (!(u in online)) continue;
      w.state.textContent = online[u] ? 'online' : 'offline';
      w.state.dataset.online = String(!!online[u]);
    }
  }

  // ---- groups -------------------------------------------------------------
  function groupItem(g) {
    const li = node('li');
    const who = node('span', 'who', '#' + g);
    const state = node('span', 'state', 'joining');
    const write = node('button', 'quiet', 'Write');
    write.type = 'button';
    write.setAttribute('aria-label', 'Write to group ' + g);
    write.addEventListener('click', () => { el.to.value = '#' + g; el.text.focus(); });
    const leave = node('button', 'quiet', 'Leave');
    leave.type = 'button';
    leave.setAttribute('aria-label', 'Leave group ' + g);
    leave.addEventListener('click', () => leaveGroup(g));
    li.append(who, state, write, leave);
    el.groups.append(li);
    return li;
  }

  function joinGroup(g, since) {
    let s = groups.get(g);
    if (!s) {
      s = { item: groupItem(g), pos: since || '', joined: false };
      groups.set(g, s);
      refreshTargets();
    }
    s.item.querySelector('.state').textContent = 'joining';
    const id = newId('j');
    const frame = { type: 'join', group: g, id };
    if (s.pos) frame.since = s.pos;
    if (send(frame)) pending.set(id, { kind: 'join', target: g });
    saveGroups();
  }

  function leaveGroup(g) {
    const id = newId('l');
    if (send({ type: 'leave', group: g, id })) pending.set(id, { kind: 'leave', target: g });
    const s = groups.get(g);
    if (s) s.item.remove();
    groups.delete(g);
    saveGroups();
    refreshTargets();
  }

  function onJoined(g, f) {
    const s = groups.get(g);
    if (!s) return;
    s.joined = true;
    s.item.querySelector('.state').textContent = 'member';
    s.item.querySelector('.state').dataset.online = 'true';
    if (typeof f.epoch === 'string' && typeof f.seq === 'number') s.pos = later(s.pos, f.epoch, f.seq);
    saveGroups();
    if (f.recovered === false) {
      notice('Rejoined #' + g + ', but some of its messages could not be recovered' +
             (typeof f.missed === 'number' ? ' (' + f.missed + ' missed).' : '.'), 'warn');
    } else {
      note('You are a member of #' + g + '.');
    }
  }

  // ---- progress -------------------------------------------------------------
  function isProgress(msg) {
    return msg && typeof msg === 'object' && !Array.isArray(msg) && typeof msg.progress === 'number';
  }

  function onProgress(f) {
    const p = Math.max(0, Math.min(100, Math.round(f.msg.progress)));
    el.progress.value = p;
    const label = typeof f.msg.label === 'string' ? f.msg.label.slice(0, 200) : '';
    el.progressText.textContent = (p >= 100 ? 'Done: 100 %' : p + ' %') +
      (label ? ' \u2014 ' + label : '') + ' (from ' + f.sender + ', ' + clock(f.createTime) + ')';
  }

  // ---- frames from the server -----------------------------------------------
  const ERRORS = {
    bad_json: 'The server could not read that message.',
    bad_request: 'The server refused that message as malformed',
    unknown_type: 'The server does not know that kind of message.',
    forbidden: 'That is not allowed on this server.',
    too_many: 'Too many at once: over the server\u2019s limit for groups or names.',
    rate_limited: 'Slow down: you sent more messages per second than the server allows; that one was not sent.',
    unsupported: 'The server accepts only text messages.',
    unavailable: 'The message service cannot be reached right now; that message was not sent. Try again in a moment.',
  };

  function onError(f) {
    const p = f.id ? pending.get(f.id) : null;
    if (p) pending.delete(f.id);
    if (p && p.item) setStatus(p.item, 'failed');
    let text;
    if (f.code === 'not_member') {
      const g = p && p.target ? '#' + p.target : 'that group';
      text = 'You are not a member of ' + g + ': join it first (Groups), then send again.';
    } else if (f.code === 'bad_request') {
      text = ERRORS.bad_request + (f.reason ? ': ' + f.reason + '.' : '.');
    } else {
      text = ERRORS[f.code] || ('The server answered with an error: ' + (f.reason || f.code) + '.');
    }
    notice(text, 'bad');
  }

  // A group message (or a chat to oneself) comes back to its sender's own
  // sessions: shown once, as sent. The ack may come before or after it.
  function ownEcho(f, kind, target) {
    if (f.sender !== me) return false;
    if (sentMids.delete(f.mid)) return true;
    for (const p of pending.values()) {
      if (p.kind === kind && p.target === target && !p.echoed && p.text === show(f.msg)) {
        p.echoed = true;
        return true;
      }
    }
    return false;
  }

  function onAck(f) {
    const p = pending.get(f.id);
    if (!p) return;
    pending.delete(f.id);
    if (f.mid && !p.echoed && (p.kind === 'group' || p.target === me)) {
      sentMids.add(f.mid);
      if (sentMids.size > 1000) sentMids.delete(sentMids.values().next().value);
    }
    if (f.status === 'delivered' || f.status === 'sent' || f.status === 'joined') noticeDone();
    switch (p.kind) {
    case 'chat':
      setStatus(p.item, f.status);
      if (f.status === 'offline') {
        notice(p.target + ' is offline' + (f.stored
          ? ': the message is kept and reaches ' + p.target + ' when they connect again.'
          : ', and the server keeps no history: the message was not delivered.'), 'warn');
      }
      break;
    case 'group':
      setStatus(p.item, f.status);
      break;
    case 'join':
      onJoined(p.target, f);
      break;
    case 'leave':
      note('You left #' + p.target + '.');
      break;
    }
  }

  function onWelcome(f) {
    welcomed = true;
    retryMs = 0;
    el.session.textContent = f.session || 'none';
    el.session.title = 'a session id starts with its worker\u2019s id';
    setConn('Connected as ' + me, 'open');
    el.connect.hidden = true;
    el.disconnect.hidden = false;
    el.name.disabled = true;
    store.set('sessionStorage', K_USER, me);
    notePosition(f.epoch, f.seq);
    if (resumedFrom && f.recovered === true) {
      notice('Welcome back, ' + me + ': ' + (replayed === 0 ? 'you missed nothing.'
        : replayed === 1 ? 'recovered the 1 message you missed (marked \u201cwhile you were away\u201d).'
          : 'recovered the ' + replayed + ' messages you missed (marked \u201cwhile you were away\u201d).'), 'ok', true);
    } else if (resumedFrom && f.recovered === false) {
      notice('Welcome back, ' + me + '. Some messages could not be recovered' +
        (typeof f.missed === 'number' ? ' (' + f.missed + ' missed, too old or lost)' : '') +
        (replayed ? '; ' + replayed + ' came back.' : '.'), 'warn', true);
    } else {
      el.notice.hidden = true;
      note('Welcome, ' + me + '. You are online.');
    }
    for (const [g, s] of groups) { s.joined = false; joinGroup(g, s.pos); }
    startPresence();
  }

  function onFrame(text) {
    let f;
    try { f = JSON.parse(text); } catch (e) { return; }
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
    case 'welcome':
      onWelcome(f);
      break;
    case 'chat':
      if (f.receiver === me) notePosition(f.epoch, f.seq);
      if (f.sender !== 'system') watch(f.sender, true);
      if (isProgress(f.msg)) { onProgress(f); break; }
      if (welcomed && ownEcho(f, 'chat', me)) break;
      message((f.sender === me ? 'you' : f.sender) + ' \u2192 ' + (f.receiver === me ? 'you' : f.receiver),
        f.msg, { time: f.createTime, missed: !welcomed, out: f.sender === me });
      break;
    case 'group': {
      const s = groups.get(f.group);
      if (s && typeof f.epoch === 'string') { s.pos = later(s.pos, f.epoch, f.seq); saveGroups(); }
      const missed = !welcomed || (s && !s.joined);
      if (!missed && ownEcho(f, 'group', f.group)) break;
      message((f.sender === me ? 'you' : f.sender) + ' in #' + f.group, f.msg,
        { time: f.createTime, missed, out: f.sender === me });
      break;
    }
    case 'broadcast':
      message(f.sender + ' to everyone', f.msg, { time: f.createTime });
      break;
    case 'ack':
      onAck(f);
      break;
    case 'error':
      onError(f);
      break;
    case 'presence':
      if (f.id) pending.delete(f.id);
      onPresence(f);
      break;
    default:
      break;
    }
    if (!welcomed) replayed++;
  }

  // ---- the connection -------------------------------------------------------
  // Close codes in plain words (zwsd-protocol(7) "Close codes"); retry: the
  // page reconnects by itself, resuming from its position.
  const CLOSES = {
    1000: ['Disconnected.', false],
    1001: ['The server is shutting down or restarting; reconnecting\u2026', true],
    1002: ['Disconnected: the server saw a protocol error.', false],
    1007: ['Disconnected: a message was not valid text (UTF-8).', false],
    1008: ['Disconnected for sending too fast for too long.', false],
    1009: ['Disconnected: a message was larger than the server allows.', false],
    1011: ['The server hit an internal error; reconnecting\u2026', true],
    1013: ['The server is busy (its message service is not ready); trying again shortly\u2026', true],
    4001: ['You signed in as the same name somewhere else (another tab or device), so this page was disconnected. Press Connect to use it here again.', false],
    4003: ['Your sign-in expired; sign in again.', false],
    4008: ['Disconnected because this page fell too far behind (too slow to read what the server sent). Press Connect: what was kept in history comes back.', false],
  };

  function onClose(ev) {
    const was = welcomed;
    ws = null;
    welcomed = false;
    stopPresence();
    for (const [id, p] of pending) {
      if (p.item) setStatus(p.item, 'unknown');
      pending.delete(id);
    }
    for (const s of groups.values()) {
      s.joined = false;
      s.item.querySelector('.state').textContent = 'rejoins on connect';
      delete s.item.querySelector('.state').dataset.online;
    }
    el.session.textContent = 'none';
    el.name.disabled = false;
    el.connect.hidden = false;
    el.disconnect.hidden = true;
    if (!wantOpen) {
      setConn('Not connected', 'idle');
      note('Disconnected.');
      return;
    }
    let [text, retry] = CLOSES[ev.code] || [null, true];
    if (!text) {
      text = was
        ? 'The connection was lost' + (ev.code && ev.code !== 1006 ? ' (code ' + ev.code + ')' : '') + '; reconnecting\u2026'
        : 'Could not connect as ' + me + ': the server cannot be reached or refused the connection; trying again\u2026';
    }
    if (ev.code === 4001) store.set('sessionStorage', K_USER, null);  // a reload must not take it back
    notice(text, retry ? 'warn' : 'bad', true);
    if (!retry) {
      wantOpen = false;
      setConn(ev.code === 4001 ? 'Replaced by a newer login' : 'Disconnected', 'closed');
      return;
    }
    setConn('Reconnecting\u2026', 'connecting');
    retryMs = Math.min(RETRY_MAX_MS, retryMs ? retryMs * 2 : 500);
    retryTimer = setTimeout(() => { retryTimer = null; if (wantOpen) open(me); }, retryMs);
  }

  function open(name) {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (me !== name) {
      // another user in this tab: start from that user's saved state
      for (const g of groups.values()) g.item.remove();
      groups.clear();
      for (const w of watched.values()) w.item.remove();
      watched.clear();
      el.peopleEmpty.hidden = false;
      me = name;
      const saved = store.json('sessionStorage', kGroups(me), {});
      for (const g of Object.keys(saved)) {
        if (NAME_RE.test(g)) groups.set(g, { item: groupItem(g), pos: saved[g] || '', joined: false });
      }
      for (const u of store.json('localStorage', kWatch(me), [])) watch(String(u), false);
      refreshTargets();
    }
    wantOpen = true;
    welcomed = false;
    replayed = 0;
    resumedFrom = parsePos(store.get('localStorage', kPos(me))) ? store.get('localStorage', kPos(me)) : null;
    el.position.textContent = resumedFrom || 'none';
    const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const url = proto + location.host + '/ws/' + me + (resumedFrom ? '?since=' + encodeURIComponent(resumedFrom) : '');
    setConn('Connecting as ' + me + '\u2026', 'connecting');
    let sock;
    try {
      sock = new WebSocket(url);
    } catch (e) {
      notice('Could not open a WebSocket: ' + e.message, 'bad');
      return;
    }
    ws = sock;
    sock.addEventListener('message', (ev) => { if (ws === sock) onFrame(ev.data); });
    sock.addEventListener('close', (ev) => { if (ws === sock) onClose(ev); });
  }

  // ---- the forms ------------------------------------------------------------
  el.login.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = el.name.value.trim();
    if (!NAME_RE.test(name)) {
      notice('A name is 1 to 64 letters, digits, or _ . @ - (no spaces).', 'bad');
      el.name.focus();
      return;
    }
    if (ws) return;
    open(name);
  });

  el.disconnect.addEventListener('click', () => {
    wantOpen = false;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    store.set('sessionStorage', K_USER, null);
    if (ws) ws.close(1000);
    el.name.focus();
  });

  el.noticeClose.addEventListener('click', () => { el.notice.hidden = true; el.text.focus(); });

  el.watch.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const u = el.watchName.value.trim();
    if (!NAME_RE.test(u)) { notice('\u201c' + u + '\u201d is not a valid name.', 'bad'); return; }
    watch(u, true);
    el.watchName.value = '';
  });

  el.join.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const g = el.groupName.value.trim().replace(/^#/, '');
    if (!NAME_RE.test(g)) { notice('A group name follows the same rule as a name.', 'bad'); return; }
    if (!welcomed) { notice('Connect first, then join a group.', 'bad'); return; }
    if (!groups.has(g)) joinGroup(g, '');
    el.groupName.value = '';
  });

  el.compose.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const to = el.to.value.trim();
    const text = el.text.value;
    if (!welcomed) { notice('Connect first, then send.', 'bad'); return; }
    if (!text.trim()) { el.text.focus(); return; }
    const group = to.startsWith('#');
    const target = group ? to.slice(1) : to;
    if (!NAME_RE.test(target)) {
      notice(to ? '\u201c' + to + '\u201d is neither a name nor a #group.' : 'Say who the message is for (To).', 'bad');
      el.to.focus();
      return;
    }
    const id = newId('m');
    const frame = group ? { type: 'group', group: target, msg: text, id }
      : { type: 'chat', receiver: target, msg: text, id };
    if (!send(frame)) { notice('Not connected: the message was not sent.', 'bad'); return; }
    const item = message('you \u2192 ' + to, text, { out: true, status: 'sending' });
    pending.set(id, { kind: group ? 'group' : 'chat', target, item, text });
    if (!group) watch(target, true);
    el.text.value = '';
    el.text.focus();
  });

  // ---- start: a reload signs in again and resumes ----------------------------
  const again = store.get('sessionStorage', K_USER);
  if (again && NAME_RE.test(again)) {
    el.name.value = again;
    open(again);
  } else {
    el.name.focus();
  }
})();
