/*
 * agent.h - ssh-agent protocol client (draft-miller-ssh-agent, RFC 9987).
 *
 * Talks to a running ssh-agent over its UNIX socket ($SSH_AUTH_SOCK):
 * list identities, add a certificate identity with a lifetime constraint,
 * remove an identity.  Every message is framed and parsed through a
 * struct jit_buf limited to JIT_AGENT_MAX_MSG bytes; a reply longer than
 * that is refused without reading it.
 *
 * Why the lifetime matters: ssh-agent 9.2 does not drop a certificate when
 * its valid_before passes, so callers send LIFETIME = valid_before - now.
 * A new certificate for the same key is a separate identity in the agent,
 * so callers remove the old certificate blob themselves.
 *
 * All functions return 0 or a negative JIT_ERR_* code (err.h) and never
 * print.  JIT_ERR_AGENT means the agent answered FAILURE or something
 * unexpected; JIT_ERR_NOT_FOUND from jit_agent_open means there is no
 * agent socket to talk to.  Output parameters are cleared on entry.
 *
 * A struct jit_agent is one connection; it is not thread-safe.  Requests
 * are synchronous with a per-request I/O timeout (JIT_AGENT_TIMEOUT_MS).
 */
#ifndef JIT_AGENT_H
#define JIT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "key.h"

#define JIT_AGENT_MAX_MSG (256u * 1024)   /* frame limit incl. length */
#define JIT_AGENT_TIMEOUT_MS 10000
#define JIT_AGENT_MAX_IDENTITIES 2048     /* refuse larger answers */

/* Message numbers (PROTOCOL.agent). */
#define JIT_AGENT_FAILURE 5
#define JIT_AGENT_SUCCESS 6
#define JIT_AGENTC_REQUEST_IDENTITIES 11
#define JIT_AGENT_IDENTITIES_ANSWER 12
#define JIT_AGENTC_ADD_IDENTITY 17
#define JIT_AGENTC_REMOVE_IDENTITY 18
#define JIT_AGENTC_ADD_ID_CONSTRAINED 25
#define JIT_AGENT_CONSTRAIN_LIFETIME 1

struct jit_agent;

/* One identity as listed by the agent.  For a certificate, blob is the
 * certificate blob. */
struct jit_agent_identity {
	unsigned char *blob;
	size_t blob_len;
	char *comment;     /* NUL-terminated; an agent comment with an
	                      embedded NUL is refused (INVALID_FORMAT) */
};

struct jit_agent_idlist {
	struct jit_agent_identity *ids;
	size_t n;
};

/*
 * Connect to the agent at sock_path, or at $SSH_AUTH_SOCK when sock_path
 * is NULL.  Errors: NOT_FOUND (no $SSH_AUTH_SOCK, or nothing listening:
 * ENOENT/ECONNREFUSED), INVALID_ARGUMENT (path too long), PERMISSION,
 * SYSTEM, ALLOC.  Release with jit_agent_close().
 */
int jit_agent_open(const char *sock_path, struct jit_agent **out);
/* Close the connection and free; NULL is a no-op. */
void jit_agent_close(struct jit_agent *a);

/*
 * Send one request (the message type and payload, without the length
 * prefix) and read one reply into reply (reset first; it receives the
 * type byte and payload).  Errors: AGENT when the agent closes the
 * connection, NO_BUFFER_SPACE for a reply over JIT_AGENT_MAX_MSG,
 * SYSTEM (timeout: errno ETIMEDOUT) or IO.
 */
int jit_agent_request(struct jit_agent *a, const struct jit_buf *req,
    struct jit_buf *reply);

/* List identities.  *out is a new list for jit_agent_idlist_free(). */
int jit_agent_list(struct jit_agent *a, struct jit_agent_idlist **out);
void jit_agent_idlist_free(struct jit_agent_idlist *l);

/*
 * Parse a complete agent reply (type byte and payload, as returned by
 * jit_agent_request) that must be IDENTITIES_ANSWER.  A FAILURE reply
 * gives AGENT; anything malformed INVALID_FORMAT, MESSAGE_INCOMPLETE or
 * TRAILING_DATA.  This is the function the fuzzer drives.
 */
int jit_agent_parse_identities(const unsigned char *msg, size_t len,
    struct jit_agent_idlist **out);

/*
 * Parse a reply that must be SUCCESS (0) or FAILURE (AGENT); anything
 * else is INVALID_FORMAT.
 */
int jit_agent_parse_status(const unsigned char *msg, size_t len);

/*
 * Add a certificate identity: the private key priv together with the
 * certificate blob cert (whose subject key must be priv's public key;
 * ssh-agent checks this for Ed25519 and checks the CA signature).  With
 * lifetime > 0 the identity is added constrained (ADD_ID_CONSTRAINED with
 * LIFETIME), and the agent forgets it after that many seconds; 0 adds it
 * unconstrained.  comment is stored with the identity (NULL = "").
 * Errors: INVALID_ARGUMENT (no private part, cert type does not match the
 * key type), AGENT (refused), plus I/O errors as above.  The message
 * holding the private key is wiped after sending.
 */
int jit_agent_add_cert(struct jit_agent *a, const struct jit_key *priv,
    const unsigned char *cert, size_t cert_len, const char *comment,
    uint32_t lifetime);

/* Same for a plain private key (no certificate). */
int jit_agent_add_key(struct jit_agent *a, const struct jit_key *priv,
    const char *comment, uint32_t lifetime);

/* Build the ADD_IDENTITY / ADD_ID_CONSTRAINED message that
 * jit_agent_add_cert sends (cert may be NULL for a plain key) into req,
 * which the caller must release (it holds the private key).  Exposed for
 * tests. */
int jit_agent_build_add(struct jit_buf *req, const struct jit_key *priv,
    const unsigned char *cert, size_t cert_len, const char *comment,
    uint32_t lifetime);

/* Remove one identity by its key (or certificate) blob.  Errors: AGENT
 * when the agent does not hold it or refuses. */
int jit_agent_remove(struct jit_agent *a, const unsigned char *blob,
    size_t blob_len);

/*
 * Remove every identity whose comment equals comment exactly; *removed
 * (if non-NULL) receives how many.  Identities that vanish between the
 * listing and the removal are not an error.
 */
int jit_agent_remove_by_comment(struct jit_agent *a, const char *comment,
    size_t *removed);

#endif
