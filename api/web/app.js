/*
 * app.js - the jit-ssh web page: sign in with an API token or through
 * the identity provider (/oidc/login, when the server offers it), then an
 * inbox of requests to decide on, a page per request, your own requests and,
 * for auditors, the audit log.  It talks only to the /v1 API of the
 * server that served it.
 *
 * Rules this file keeps:
 *  - text from the server is only ever inserted as text (el() and
 *    textContent), never as HTML;
 *  - every call that changes something carries the session's CSRF token
 *    (X-CSRF-Token); the session itself is an HttpOnly cookie this script
 *    cannot read, and the API token typed at sign-in is sent once and
 *    dropped;
 *  - stable hooks for tests and scripts: the token field is name=token,
 *    the comment is textarea name=comment, action buttons carry
 *    data-action="approve" | "deny" | "revoke" | "cancel".
 */
'use strict';

(function () {
  const PAGE_SIZE = 20;
  const LIST_LIMIT = 500;
  const WAIT_SECONDS = 25;      /* at most; the server's max_wait caps it */
  const AUDIT_SHOWN = 500;

  const state = {
    me: null,          /* GET /v1/whoami */
    csrf: null,
    maxWait: 20,
    ended: false,      /* the session ended under us */
    view: null,        /* AbortController of the current view's work */
  };

  /* ---- DOM helpers ------------------------------------------------- */

  /* el('p', {class: 'x'}, 'text', child, ...): strings become text
   * nodes; attributes are set with setAttribute, handlers with on*. */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    append(e, kids);
    return e;
  }

  function append(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      e.append(typeof k === 'string' || typeof k === 'number' ?
        document.createTextNode(String(k)) : k);
    }
    return e;
  }

  const $ = (sel) => document.querySelector(sel);

  function announce(text) {
    const live = $('#live');
    live.textContent = '';
    window.setTimeout(() => { live.textContent = text; }, 30);
  }

  /* Replace the main area and move focus to its heading, so keyboard
   * and screen-reader users start at the top of the new view. */
  function show(...kids) {
    const main = $('#main');
    main.replaceChildren(...kids.flat().filter(Boolean));
    const h1 = main.querySelector('h1');
    if (h1) {
      h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }

  /* ---- formatting ------------------------------------------------------ */

  const dateFmt = new Intl.DateTimeFormat(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const fullFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
    minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });

  function when(iso) {
    return iso ? dateFmt.format(new Date(iso)) : '';
  }

  function span(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
    const parts = [];
    for (const [u, n] of units) {
      if (seconds >= n && parts.length < 2) {
        parts.push(Math.floor(seconds / n) + u);
        seconds %= n;
      }
    }
    return parts.length ? parts.join(' ') : '0s';
  }

  function ago(iso) {
    if (!iso) return '';
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 45) return 'just now';
    return s >= 0 ? span(s) + ' ago' : 'in ' + span(-s);
  }

  function until(iso) {
    const s = (new Date(iso).getTime() - Date.now()) / 1000;
    return s > 0 ? 'in ' + span(s) : span(-s) + ' ago';
  }

  /* <time> with the full date as its title and machine value. */
  function timeEl(iso, text) {
    return el('time', { datetime: iso, title: fullFmt.format(new Date(iso)) },
      text || when(iso));
  }

  /* The window of a request, as words. */
  function windowText(r) {
    if (r.not_before && r.not_after)
      return when(r.not_before) + ' – ' + when(r.not_after);
    const d = span(r.duration);
    return r.start ? d + ' from ' + when(r.start) : d + ' from approval';
  }

  function badge(s) {
    return el('span', { class: 'badge state-' + s }, s);
  }

  function chips(list, empty) {
    if (!list || list.length === 0) return el('span', { class: 'muted' }, empty);
    return el('ul', { class: 'chips' }, list.map((p) => el('li', { class: 'chip' }, p)));
  }

  function approvalsText(r) {
    return r.approvals.length + ' of ' + r.approvals_needed;
  }

  /* What the approval rule still lacks ("still needs 1 from group
   * security"): from the request's "missing" list when the server records
   * one, else from the progress line of ?view=1.  null when nothing is
   * missing beyond the count. */
  function missing(r) {
    if (r.state !== 'pending') return null;
    if (Array.isArray(r.missing)) {
      const parts = r.missing.filter((m) => m.from && m.from.startsWith('group:'))
        .map((m) => m.count + ' from group ' + m.from.slice(6));
      return parts.length ? 'still needs ' + parts.join(' and ') : null;
    }
    const m = /;\s*(still needs .*)$/.exec(r.progress || '');
    return m ? m[1] : null;
  }

  /* The certificate's options: those the request recorded when it was
   * made, else (older servers) the role's as ?view=1 gives them. */
  function grantTerms(r) {
    if ('extensions' in r)
      return { extensions: r.extensions, force_command: r.force_command,
        source_address: r.source_address };
    return r.terms || {};
  }

  /* ---- the API ---------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, slug, detail) {
      super(detail || slug || ('HTTP ' + status));
      this.status = status;
      this.slug = slug;
    }
  }

  async function api(method, path, body, signal) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const res = await fetch(path, init);
    const type = res.headers.get('Content-Type') || '';
    const data = type.startsWith('application/json') ? await res.json() : await res.text();
    if (res.status === 401 && state.me) {
      sessionEnded();
      throw new ApiError(401, 'session_ended', 'Your session has ended.');
    }
    if (!res.ok)
      throw new ApiError(res.status, data && data.error, data && data.detail);
    return data;
  }

  /* Start a view: cancel the long-polls and fetches of the last one. */
  function newView() {
    if (state.view) state.view.abort();
    state.view = new AbortController();
    return state.view.signal;
  }

  function errorPanel(err) {
    return el('div', { class: 'panel' },
      el('h1', {}, err.status === 404 ? 'Not found' :
        err.status === 403 ? 'Not allowed' : 'Something went wrong'),
      el('p', { class: 'sub' }, err.message));
  }

  /* ---- session ------------------------------------------------------------- */

  function setSignedIn(me) {
    state.me = me;
    $('#nav').hidden = !me;
    $('#who').hidden = !me;
    $('#who-name').textContent = me ? me.user : '';
    $('#who-initial').textContent = me ? me.user.slice(0, 1) : '';
    $('#nav [data-nav="audit"]').hidden = !(me && (me.auditor || me.admin));
  }

  function sessionEnded() {
    state.ended = true;
    state.csrf = null;
    setSignedIn(null);
    if (state.view) state.view.abort();
    renderSignIn('Your session has ended. Sign in again to continue.');
  }

  async function loadSession() {
    try {
      const s = await api('GET', '/v1/session');
      state.csrf = s.csrf_token;
      state.maxWait = s.max_wait;
      setSignedIn(await api('GET', '/v1/whoami'));
      return true;
    } catch (e) {
      if (e.status === 401) return false;
      throw e;
    }
  }

  function renderSignIn(note) {
    newView();
    const msg = el('p', { class: 'msg msg-error', id: 'signin-error', role: 'alert' });
    const token = el('input', {
      type: 'password', name: 'token', id: 'token', autocomplete: 'off',
      spellcheck: 'false', required: true, 'aria-describedby': 'token-hint signin-error',
    });
    const form = el('form', { id: 'signin', method: 'post', action: '/v1/session', novalidate: true },
      el('div', { class: 'field' },
        el('label', { for: 'token' }, 'API token'),
        token,
        el('p', { class: 'hint', id: 'token-hint' },
          'Ask an admin for one (',
          el('code', {}, 'jit-ca token create USER'),
          '). It is used once to start a session and is not kept in this browser.')),
      el('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in'),
      msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      const value = token.value.trim();
      token.value = '';
      if (!value) {
        msg.textContent = 'Enter your API token.';
        token.setAttribute('aria-invalid', 'true');
        token.focus();
        return;
      }
      try {
        const s = await api('POST', '/v1/session', { token: value });
        state.csrf = s.csrf_token;
        state.maxWait = s.max_wait;
        state.ended = false;
        setSignedIn(await api('GET', '/v1/whoami'));
        route();
      } catch (e) {
        msg.textContent = e.status === 401 ? 'That token was not accepted.' : e.message;
        token.setAttribute('aria-invalid', 'true');
        token.focus();
      }
    });
    const sso = el('div', { class: 'field', id: 'sso-choice', hidden: true },
      el('a', { class: 'btn btn-primary', id: 'sso', href: '/oidc/login' },
        'Sign in with single sign-on'),
      el('p', { class: 'hint' }, 'Or with an API token:'));
    show(el('section', { class: 'signin panel', 'aria-labelledby': 'signin-title' },
      el('h1', { id: 'signin-title' }, 'Sign in'),
      el('p', { class: 'sub' }, 'Approve, deny and follow just-in-time SSH access.'),
      note ? el('p', { class: 'msg msg-info', role: 'status' }, note) : null,
      sso, form));
    token.focus();
    /* Single sign-on through the company's identity provider, when the
     * server has it (GET /v1/oidc says so). */
    api('GET', '/v1/oidc').then((o) => {
      if (o && o.web) sso.hidden = false;
    }, () => {});
  }

  async function signOut() {
    try {
      await api('DELETE', '/v1/session');
    } catch (e) {
      /* Already over: the outcome is the same. */
    }
    state.csrf = null;
    setSignedIn(null);
    renderSignIn('You have signed out.');
  }

  /* ---- inbox ------------------------------------------------------------ */

  function requestRow(r, cells) {
    const tr = el('tr', { class: 'clickable' });
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button')) return;
      location.hash = '#/r/' + r.id;
    });
    return append(tr, cells);
  }

  /* A table cell with its label (shown before the value on phones). */
  function td(label, attrs, ...kids) {
    return el('td', Object.assign({ 'data-label': label }, attrs || {}), el('div', {}, kids));
  }

  function requestCell(r) {
    return el('td', { class: 'first', 'data-label': 'Request' },
      el('a', { class: 'req-link', href: '#/r/' + r.id }, r.role),
      el('span', { class: 'req-id' }, r.id));
  }

  function inboxTable(rows) {
    return el('div', { class: 'table-wrap' },
      el('table', { class: 'list', id: 'inbox' },
        el('caption', { class: 'sr-only' }, 'Requests waiting for your decision'),
        el('thead', {}, el('tr', {},
          ['Request', 'Requester', 'Principals', 'Window', 'Reason', 'Age', 'Approvals']
            .map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', {}, rows.map((r) => requestRow(r, [
          requestCell(r),
          td('Requester', {}, r.user),
          td('Principals', { class: 'principals' }, chips(r.principals, '')),
          td('Window', { class: 'window' }, windowText(r)),
          td('Reason', { class: 'reason' },
            r.reason ? r.reason : el('span', { class: 'faint' }, 'none given')),
          td('Age', { class: 'nowrap' }, timeEl(r.created_at, ago(r.created_at))),
          td('Approvals', {},
            el('span', { class: 'progress-text' }, approvalsText(r)),
            r.approvals.length ? el('span', { class: 'cell-note' },
              'by ' + r.approvals.map((a) => a.user).join(', ')) : null,
            missing(r) ? el('span', { class: 'cell-note' }, missing(r)) : null),
        ])))));
  }

  function pager(total, page, go) {
    const first = page * PAGE_SIZE;
    const last = Math.min(total, first + PAGE_SIZE);
    return el('nav', { class: 'pager', 'aria-label': 'Pages' },
      el('span', {}, (first + 1) + '–' + last + ' of ' + total),
      el('span', { class: 'btns' },
        el('button', { type: 'button', class: 'btn btn-small', disabled: page === 0,
          onclick: () => go(page - 1) }, 'Newer'),
        el('button', { type: 'button', class: 'btn btn-small', disabled: last >= total,
          onclick: () => go(page + 1) }, 'Older')));
  }

  async function renderInbox(page) {
    const signal = newView();
    let list;
    try {
      list = await api('GET', '/v1/requests?state=pending&view=1&limit=' + LIST_LIMIT,
        undefined, signal);
    } catch (e) {
      if (!signal.aborted && e.status !== 401) show(errorPanel(e));
      return;
    }
    const mine = list.requests.filter((r) =>
      r.allowed_actions.includes('approve') || r.allowed_actions.includes('deny'));
    const pages = Math.max(1, Math.ceil(mine.length / PAGE_SIZE));
    page = Math.min(Math.max(0, page || 0), pages - 1);
    const rows = mine.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    show(
      el('div', { class: 'page-head' },
        el('div', {},
          el('h1', {}, 'Inbox'),
          el('p', { class: 'sub' }, mine.length === 0 ? 'Nothing is waiting for you.' :
            mine.length + (mine.length === 1 ? ' request waits' : ' requests wait') +
            ' for your decision, newest first.')),
        el('button', { type: 'button', class: 'btn', onclick: () => renderInbox(page) }, 'Refresh')),
      mine.length === 0 ?
        el('div', { class: 'panel empty' }, el('strong', {}, 'All clear'),
          'New requests you may approve will show up here.') :
        inboxTable(rows),
      mine.length > PAGE_SIZE ? pager(mine.length, page, renderInbox) : null);
  }

  /* ---- one request --------------------------------------------------------- */

  const EVENTS = {
    'request.create': ['Requested', 'create'],
    'request.approve': ['Approved', 'approve'],
    'request.deny': ['Denied', 'deny'],
    'request.cancel': ['Cancelled by the requester', 'cancel'],
    'request.revoke': ['Access ended early', 'revoke'],
    'request.expire': ['Expired without a decision', 'expire'],
    'grant.end': ['Access window closed', 'end'],
    'cert.issue': ['Certificate issued', 'issue'],
  };

  function historyList(h) {
    if (!h.entries.length) return el('p', { class: 'muted' }, 'No entries.');
    return el('ol', { class: 'history', id: 'history' }, h.entries.map((e) => {
      const [label, cls] = EVENTS[e.event] || [e.event, 'other'];
      return el('li', { class: 'ev-' + cls },
        el('span', { class: 'ev' }, label), ' ',
        el('span', { class: 'muted' }, 'by ' + e.actor),
        el('div', { class: 'when' }, timeEl(e.time, fullFmt.format(new Date(e.time)))),
        e.comment ? el('q', {}, e.comment) : null);
    }));
  }

  function termsList(r) {
    const t = grantTerms(r);
    const rows = [
      ['Principals', chips(r.principals, 'none')],
      ['Start', r.not_before ? timeEl(r.not_before, fullFmt.format(new Date(r.not_before))) :
        r.start ? timeEl(r.start, fullFmt.format(new Date(r.start))) : 'when approved'],
      ['Duration', span(r.duration)],
    ];
    if (r.not_after) rows.push(['Ends', timeEl(r.not_after, fullFmt.format(new Date(r.not_after)))]);
    rows.push(
      ['Extensions', chips(t.extensions, 'none')],
      ['Force command', t.force_command ? el('code', { class: 'mono' }, t.force_command) :
        el('span', { class: 'muted' }, 'none')],
      ['Source address', t.source_address ? el('span', { class: 'mono' }, t.source_address) :
        el('span', { class: 'muted' }, 'any')],
      ['Key', el('span', {}, r.key_type + ' ', el('span', { class: 'mono faint' }, r.key_fingerprint))]);
    if (r.state === 'pending' && r.expires_at)
      rows.push(['Decide by', timeEl(r.expires_at, when(r.expires_at) + ' (' + until(r.expires_at) + ')')]);
    return el('dl', { class: 'terms' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  function outcome(r) {
    const d = r.denials && r.denials[0];
    switch (r.state) {
      case 'approved': return 'Approved. Access runs ' + windowText(r) + '.';
      case 'denied': return 'Denied by ' + (d ? d.user : 'an approver') + '.';
      case 'cancelled': return 'The requester cancelled this request.';
      case 'expired': return 'Nobody decided in time; the request expired.';
      case 'revoked': return 'Access was ended early by ' + (r.revoked_by || 'an approver') + '.';
      case 'ended': return 'The access window has closed.';
      default: return null;
    }
  }

  function decisionPanel(r, reload) {
    const can = new Set(r.allowed_actions || []);
    const msg = el('p', { class: 'msg', id: 'action-msg', role: 'alert' });
    const panel = el('section', { class: 'panel', 'aria-labelledby': 'decide-title' });
    const needed = Math.max(1, r.approvals_needed);
    append(panel, [
      el('h2', { id: 'decide-title' }, 'Approvals'),
      el('div', { class: 'progress' },
        el('div', { class: 'meter', role: 'img', 'aria-label': approvalsText(r) + ' approvals' },
          el('span', { class: 'meter-fill', 'data-fill': Math.min(100, Math.round(100 * r.approvals.length / needed)) })),
        el('span', { class: 'progress-text' }, approvalsText(r))),
      missing(r) ? el('p', { class: 'hint', id: 'progress' },
        missing(r).replace(/^s/, 'S') + '.') : null,
      r.approvals.length || (r.denials && r.denials.length) ?
        el('ul', { class: 'decisions' },
          r.approvals.map((a) => el('li', {},
            el('span', { class: 'who-decided' }, a.user), ' approved ',
            el('span', { class: 'faint' }, ago(a.at)),
            a.comment ? el('q', {}, a.comment) : null)),
          (r.denials || []).map((a) => el('li', {},
            el('span', { class: 'who-decided' }, a.user), ' denied ',
            el('span', { class: 'faint' }, ago(a.at)),
            a.comment ? el('q', {}, a.comment) : null))) : null]);
    const fill = panel.querySelector('.meter-fill');
    fill.style.width = fill.getAttribute('data-fill') + '%';

    const done = outcome(r);
    if (done) append(panel, [el('p', { class: 'msg msg-info', id: 'outcome' }, done)]);
    if (can.size === 0) {
      if (!done) append(panel, [el('p', { class: 'hint', id: 'no-actions' },
        r.user === (state.me && state.me.user) ?
          'Waiting for approvers. You may cancel it from My requests while it is pending.' :
          'You cannot decide on this request.')]);
      return panel;
    }
    const withComment = can.has('approve') || can.has('deny') || can.has('revoke');
    const comment = el('textarea', {
      name: 'comment', id: 'comment', maxlength: 1024, rows: 3,
      'aria-describedby': 'comment-hint action-msg',
    });
    const buttons = [];
    const add = (action, label, cls) => {
      if (can.has(action))
        buttons.push(el('button', { type: 'button', class: 'btn ' + cls, 'data-action': action }, label));
    };
    add('approve', 'Approve', 'btn-approve');
    add('deny', 'Deny', 'btn-deny');
    add('revoke', 'End access now', 'btn-danger');
    add('cancel', 'Cancel request', 'btn');
    append(panel, [el('h2', { class: 'sr-only' }, 'Your decision')]);
    if (withComment) {
      append(panel, [el('div', { class: 'field', id: 'comment-field' },
        el('label', { for: 'comment' }, 'Comment'),
        comment,
        el('p', { class: 'hint', id: 'comment-hint' },
          can.has('deny') ? 'Required to deny. The requester and the audit log see it.' :
            'The requester and the audit log see it.'))]);
    }
    append(panel, [el('div', { class: 'actions' }, buttons), msg]);

    panel.addEventListener('click', async (ev) => {
      const b = ev.target.closest('button[data-action]');
      if (!b) return;
      const action = b.getAttribute('data-action');
      const text = withComment ? comment.value.trim() : '';
      msg.className = 'msg msg-error';
      msg.textContent = '';
      comment.removeAttribute('aria-invalid');
      /* A requester ending their own grant need not say why. */
      const mine = r.user === (state.me && state.me.user);
      if ((action === 'deny' || (action === 'revoke' && !mine)) && !text) {
        msg.textContent = action === 'deny' ? 'A comment is needed to deny: say why.' :
          'A comment is needed to end access early: say why.';
        comment.setAttribute('aria-invalid', 'true');
        comment.focus();
        return;
      }
      for (const x of buttons) x.disabled = true;
      try {
        await api('POST', '/v1/requests/' + r.id + '/' + action,
          action === 'cancel' ? {} : (text ? { comment: text } : {}));
        const words = { approve: 'Approved.', deny: 'Denied.', revoke: 'Access ended.', cancel: 'Cancelled.' };
        announce(words[action]);
        await reload(words[action]);
      } catch (e) {
        if (e.status === 401) return;
        msg.textContent = e.message;
        for (const x of buttons) x.disabled = false;
      }
    });
    return panel;
  }

  async function renderRequest(id, note) {
    const signal = newView();
    let r, h;
    try {
      [r, h] = await Promise.all([
        api('GET', '/v1/requests/' + id + '?view=1', undefined, signal),
        api('GET', '/v1/requests/' + id + '/history', undefined, signal),
      ]);
    } catch (e) {
      if (!signal.aborted && e.status !== 401) show(errorPanel(e));
      return;
    }
    const reload = (text) => renderRequest(id, text);
    show(
      el('a', { class: 'back', href: r.user === state.me.user && !r.allowed_actions.includes('approve') ?
        '#/mine' : '#/' }, '← Back'),
      el('div', { class: 'page-head' },
        el('div', {},
          el('h1', { id: 'request-title' }, 'Access to ' + r.role, badge(r.state)),
          el('p', { class: 'lede' },
            el('strong', {}, r.user), ' asks for ', el('strong', {}, span(r.duration)),
            ' on ', el('strong', {}, r.principals.join(', ')), ' · ',
            el('span', { class: 'mono nowrap' }, r.id), ' · requested ',
            timeEl(r.created_at, ago(r.created_at)))),
        r.state === 'pending' ? el('span', { class: 'live-note' }, 'Updates live') : null),
      note ? el('p', { class: 'msg msg-ok', role: 'status' }, note) : null,
      el('div', { class: 'req-grid' },
        el('section', { class: 'panel area-reason', 'aria-labelledby': 'reason-title' },
          el('h2', { id: 'reason-title' }, 'Reason'),
          r.reason ? el('blockquote', { class: 'reason-text', id: 'reason' }, r.reason) :
            el('p', { class: 'muted', id: 'reason' }, 'No reason given.')),
        el('div', { class: 'area-side' }, decisionPanel(r, reload)),
        el('section', { class: 'panel area-terms', 'aria-labelledby': 'terms-title' },
          el('h2', { id: 'terms-title' }, 'What the certificate grants'),
          termsList(r)),
        el('section', { class: 'panel area-history', 'aria-labelledby': 'history-title' },
          el('h2', { id: 'history-title' }, 'History'),
          historyList(h),
          h.complete ? null : el('p', { class: 'hint' }, 'Older entries are in the audit log.'))));
    if (r.state === 'pending') follow(r, signal, reload);
  }

  /* Long-poll the request (as jit-ssh login does) and redraw when its
   * state or decisions change. */
  async function follow(r, signal, reload) {
    let fails = 0;
    while (!signal.aborted) {
      try {
        const wait = Math.max(1, Math.min(WAIT_SECONDS, state.maxWait));
        const cur = await api('GET', '/v1/requests/' + r.id + '?wait=' + wait,
          undefined, signal);
        fails = 0;
        if (signal.aborted) return;
        if (cur.state !== r.state || cur.approvals.length !== r.approvals.length ||
            (cur.denials || []).length !== (r.denials || []).length) {
          announce('This request changed: it is now ' + cur.state + '.');
          reload(null);
          return;
        }
      } catch (e) {
        if (signal.aborted || e.status === 401 || e.status === 403 || e.status === 404) return;
        fails++;
        await new Promise((ok) => window.setTimeout(ok, Math.min(30000, 1000 * fails * fails)));
      }
    }
  }

  /* ---- my requests ---------------------------------------------------------- */

  async function renderMine(note) {
    const signal = newView();
    let list;
    try {
      list = await api('GET', '/v1/requests?mine=1&view=1&limit=100', undefined, signal);
    } catch (e) {
      if (!signal.aborted && e.status !== 401) show(errorPanel(e));
      return;
    }
    const reqs = list.requests;
    const msg = el('p', { class: 'msg msg-error', role: 'alert' });
    const table = el('div', { class: 'table-wrap' },
      el('table', { class: 'list', id: 'mine' },
        el('caption', { class: 'sr-only' }, 'Your requests'),
        el('thead', {}, el('tr', {},
          ['Request', 'State', 'Window', 'Reason', 'Requested', 'Actions']
            .map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', {}, reqs.map((r) => requestRow(r, [
          requestCell(r),
          td('State', {}, badge(r.state)),
          td('Window', {}, windowText(r)),
          td('Reason', { class: 'reason' },
            r.reason ? r.reason : el('span', { class: 'faint' }, 'none given')),
          td('Requested', { class: 'nowrap' }, timeEl(r.created_at, ago(r.created_at))),
          td('Actions', { class: 'row-actions' },
            r.allowed_actions.includes('cancel') ?
              el('button', { type: 'button', class: 'btn btn-small', 'data-action': 'cancel',
                'data-id': r.id, 'aria-label': 'Cancel request ' + r.id }, 'Cancel') : null,
            r.allowed_actions.includes('revoke') ?
              el('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'revoke',
                'data-id': r.id, 'aria-label': 'End access of ' + r.id + ' now' }, 'End now') : null),
        ])))));
    table.addEventListener('click', async (ev) => {
      const b = ev.target.closest('button[data-action]');
      if (!b) return;
      const id = b.getAttribute('data-id');
      const action = b.getAttribute('data-action');
      b.disabled = true;
      try {
        await api('POST', '/v1/requests/' + id + '/' + action,
          action === 'revoke' ? { comment: 'ended early by ' + state.me.user } : {});
        announce(action === 'cancel' ? 'Cancelled.' : 'Access ended.');
        renderMine(action === 'cancel' ? 'Request ' + id + ' cancelled.' : 'Access of ' + id + ' ended.');
      } catch (e) {
        if (e.status === 401) return;
        msg.textContent = e.message;
        b.disabled = false;
      }
    });
    show(
      el('div', { class: 'page-head' },
        el('div', {},
          el('h1', {}, 'My requests'),
          el('p', { class: 'sub' }, 'Request access with ',
            el('code', { class: 'mono' }, 'jit-ssh login ROLE'), '; follow and withdraw it here.'))),
      note ? el('p', { class: 'msg msg-ok', role: 'status' }, note) : null,
      reqs.length ? table : el('div', { class: 'panel empty' },
        el('strong', {}, 'No requests yet'), 'Your access requests will show up here.'),
      msg);
  }

  /* ---- audit log -------------------------------------------------------------- */

  function isoOf(local) {
    if (!local) return '';
    const d = new Date(local);
    return isNaN(d) ? '' : d.toISOString().replace(/\.\d+Z$/, 'Z');
  }

  function localOf(date) {
    const p = (n) => String(n).padStart(2, '0');
    return date.getFullYear() + '-' + p(date.getMonth() + 1) + '-' + p(date.getDate()) +
      'T' + p(date.getHours()) + ':' + p(date.getMinutes());
  }

  function auditQuery(f, format) {
    const q = new URLSearchParams();
    if (f.since) q.set('since', isoOf(f.since));
    if (f.until) q.set('until', isoOf(f.until));
    for (const k of ['user', 'role', 'event'])
      if (f[k]) q.set(k, f[k]);
    if (format) q.set('format', format);
    const s = q.toString();
    return '/v1/audit' + (s ? '?' + s : '');
  }

  async function renderAudit(filters) {
    const signal = newView();
    const f = filters || { since: localOf(new Date(Date.now() - 7 * 86400 * 1000)) };
    const input = (name, label, type, extra) => el('div', { class: 'field' },
      el('label', { for: 'f-' + name }, label),
      el('input', Object.assign({ type, name, id: 'f-' + name, value: f[name] || '' }, extra || {})));
    const events = el('select', { name: 'event', id: 'f-event' },
      [['', 'Any event'], ['request.*', 'Requests'], ['cert.issue', 'Certificates'],
        ['session.*', 'Web sessions'], ['token.*', 'Tokens'], ['policy.*', 'Policy'],
        ['server.*', 'Server']].map(([v, t]) =>
        el('option', { value: v, selected: (f.event || '') === v }, t)));
    const form = el('form', { class: 'filters', id: 'audit-filters' },
      input('since', 'Since', 'datetime-local'),
      input('until', 'Until', 'datetime-local'),
      input('user', 'User', 'text', { autocomplete: 'off' }),
      input('role', 'Role', 'text', { autocomplete: 'off' }),
      el('div', { class: 'field' }, el('label', { for: 'f-event' }, 'Event'), events),
      el('button', { type: 'submit', class: 'btn btn-primary' }, 'Show'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const d = new FormData(form);
      renderAudit(Object.fromEntries([...d.entries()].map(([k, v]) => [k, String(v).trim()])));
    });
    const stamp = new Date().toISOString().slice(0, 10);
    const downloads = el('div', { class: 'downloads' },
      el('a', { class: 'btn', id: 'download-jsonl', href: auditQuery(f, 'jsonl'),
        download: 'jit-audit-' + stamp + '.jsonl' }, 'Download signed export (JSON lines)'),
      el('a', { class: 'btn', id: 'download-csv', href: auditQuery(f, 'csv'),
        download: 'jit-audit-' + stamp + '.csv' }, 'CSV'));
    const results = el('div', { id: 'audit-results' }, el('p', { class: 'muted' }, 'Loading…'));
    show(
      el('div', { class: 'page-head' },
        el('div', {},
          el('h1', {}, 'Audit log'),
          el('p', { class: 'sub' }, 'Every change, hash-chained and signed. ',
            'Check a download with ', el('code', { class: 'mono' }, 'jit-ca audit verify FILE'), '.')),
        downloads),
      el('section', { class: 'panel', 'aria-label': 'Filters' }, form),
      results);
    let text;
    try {
      text = await api('GET', auditQuery(f), undefined, signal);
    } catch (e) {
      if (!signal.aborted && e.status !== 401)
        results.replaceChildren(el('p', { class: 'msg msg-error', role: 'alert' }, e.message));
      return;
    }
    const entries = [];
    let trailer = null;
    for (const line of String(text).split('\n')) {
      if (line.startsWith('-----BEGIN')) break;
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line);
      if (j.export) trailer = j.export;
      else entries.push(j);
    }
    entries.reverse();
    const shown = entries.slice(0, AUDIT_SHOWN);
    results.replaceChildren(
      el('p', { class: 'audit-summary', id: 'audit-summary' },
        entries.length + (entries.length === 1 ? ' entry' : ' entries'),
        entries.length > AUDIT_SHOWN ? ' (the newest ' + AUDIT_SHOWN + ' shown)' : '',
        trailer ? ' · chain head #' + trailer.chain_head.seq + ' · signed by ' + trailer.signer : ''),
      shown.length === 0 ? el('div', { class: 'panel empty' }, el('strong', {}, 'No entries'),
        'Nothing matches these filters.') :
        el('div', { class: 'table-wrap' },
          el('table', { class: 'list', id: 'audit' },
            el('caption', { class: 'sr-only' }, 'Audit entries, newest first'),
            el('thead', {}, el('tr', {},
              ['#', 'Time', 'Event', 'Actor', 'Request', 'Details'].map((t) => el('th', { scope: 'col' }, t)))),
            el('tbody', {}, shown.map((e) => el('tr', {},
              el('td', { class: 'first mono', 'data-label': '#' }, '#' + e.seq),
              td('Time', { class: 'nowrap' }, timeEl(e.time, fullFmt.format(new Date(e.time)))),
              td('Event', {}, el('span', { class: 'mono' }, e.event)),
              td('Actor', {}, e.actor),
              td('Request', {}, e.request ?
                el('a', { href: '#/r/' + e.request, class: 'mono' }, e.request) : ''),
              td('Details', { class: 'detail' },
                [e.user && e.user !== e.actor ? 'for ' + e.user : '', e.role ? 'role ' + e.role : '',
                  e.state ? e.state : '', e.comment ? '“' + e.comment + '”' : '']
                  .filter(Boolean).join(' · '))))))));
  }

  /* ---- routing ------------------------------------------------------------------ */

  function setCurrent(name) {
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('data-nav') === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function route() {
    if (!state.me) {
      renderSignIn(state.ended ? 'Your session has ended. Sign in again to continue.' : null);
      return;
    }
    const hash = location.hash || '#/';
    let m;
    if ((m = /^#\/r\/(r-[a-z2-7]{12})$/.exec(hash))) {
      setCurrent(null);
      renderRequest(m[1]);
    } else if (hash === '#/mine') {
      setCurrent('mine');
      renderMine();
    } else if (hash === '#/audit' && (state.me.auditor || state.me.admin)) {
      setCurrent('audit');
      renderAudit();
    } else {
      setCurrent('inbox');
      renderInbox(0);
    }
  }

  async function start() {
    $('#signout').addEventListener('click', signOut);
    $('#skip').addEventListener('click', (ev) => {
      ev.preventDefault();
      $('#main').focus();
    });
    window.addEventListener('hashchange', () => {
      if (location.hash.startsWith('#/')) route();
    });
    /* Coming back to the tab shows what changed meanwhile. */
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && state.me && (location.hash || '#/') === '#/')
        renderInbox(0);
    });
    try {
      await loadSession();
    } catch (e) {
      show(errorPanel(e));
      return;
    }
    route();
  }

  start();
})();
