/*
 * server.h - the approval server's lifecycle (jit-ca serve).
 *
 * jit_server_run():
 *   1. blocks SIGINT, SIGTERM and SIGHUP in the calling thread before any
 *      thread starts (every thread inherits the mask; the calling thread
 *      takes them with sigwait), ignores SIGPIPE;
 *   2. loads the policy (a broken policy refuses to start);
 *   3. refuses a data directory that group or others may write (a missing
 *      one is created 0700 in step 5);
 *   4. binds the listen address (http.h: jit_http_bind), so a busy
 *      address fails before anything is created;
 *   5. opens the store in server mode (a second server on the same data
 *      directory fails with STORE_LOCKED);
 *   6. loads the CA key from DATA/ca_key, or creates an (unencrypted)
 *      Ed25519 CA when the data directory has none, and the host CA from
 *      DATA/host_ca_key the same way (created only together with the CA;
 *      a data directory with a CA but no host CA runs without host
 *      certificates and says so in the log); refuses to start when
 *      DATA/ca_key is accessible by group or others (mode & 077) or not a
 *      regular file; an encrypted DATA/ca_key is decrypted with the
 *      passphrase from pass (cadir.h) and held decrypted in memory only
 *      until the server stops; a wrong one refuses to start; warns when
 *      the key could not be locked in memory;
 *   7. with the embedded defaults (no config file) and a CA created just
 *      now, creates one API token per policy user, valid for
 *      JIT_DEMO_TOKEN_TTL, writes them to DATA/demo-tokens (0600: a
 *      "# ..." line saying until when they are valid, then "user token"
 *      lines) and prints them once on stdout;
 *   8. warns on stderr, at every start, while demo tokens (created by
 *      JIT_DEMO_TOKEN_ACTOR) are unexpired and unrevoked;
 *   9. appends "server.start" to the audit log (policy hash, CA
 *      fingerprint, listen address);
 *  10. serves HTTP (http.h) and runs the sweeper every sweep_interval
 *      seconds (pending requests past their timeout -> expired, grants
 *      past not_after -> ended), and, with notify endpoints in the
 *      config, the notification threads (notify.h; a secret_file that
 *      cannot be read refuses to start);
 *  11. SIGHUP reloads the policy: a broken file keeps the last good policy
 *      and the reason is logged; a good one is swapped in and recorded
 *      ("policy.reload" with its hash);
 *  12. SIGTERM / SIGINT: stop accepting, let requests being handled finish
 *      (long-polls return at once with the current state), stop the
 *      sweeper and the notification threads, close the store, return 0.
 *
 * Diagnostics go to stderr as "jit-ca: ..." lines (the server's log);
 * err receives the reason a start failed.
 */
#ifndef JIT_SERVER_H
#define JIT_SERVER_H

#include <stddef.h>

#include "cadir.h"
#include "config.h"

#define JIT_DEMO_TOKENS_FILE "demo-tokens"
#define JIT_DEMO_TOKEN_TTL (12ull * 3600)
#define JIT_DEMO_TOKEN_ACTOR "system:demo"   /* their "created_by" */

/* Run until SIGTERM/SIGINT.  0 after a clean shutdown; a negative
 * JIT_ERR_* if the server could not start (err says why).  pass: the
 * passphrase sources for an encrypted CA key (NULL: none). */
int jit_server_run(const struct jit_config *cfg,
    const struct jit_cadir_pass *pass, int quiet, char *err, size_t errlen);

#endif
