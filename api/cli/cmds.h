/*
 * cmds.h - jit-ca subcommands.  Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and returns the process exit
 * status: 0 on success; on failure it has printed one line
 * "jit-ca CMD: message" to stderr and returns 1 (2 for usage errors).
 */
#ifndef JIT_CMDS_H
#define JIT_CMDS_H

#include <stddef.h>
#include <stdint.h>

int cmd_init(int argc, char **argv);     /* cmd_ca.c */
int cmd_ca(int argc, char **argv);       /* cmd_ca.c */
int cmd_sign(int argc, char **argv);     /* cmd_ca.c */
int cmd_policy(int argc, char **argv);   /* cmd_policy.c */
int cmd_token(int argc, char **argv);    /* cmd_token.c */
int cmd_serve(int argc, char **argv);    /* cmd_serve.c */
int cmd_audit(int argc, char **argv);    /* cmd_audit.c */
int cmd_krl(int argc, char **argv);      /* cmd_krl.c */
int cmd_store(int argc, char **argv);    /* cmd_store.c */
int cmd_notify(int argc, char **argv);   /* cmd_notify.c */
int cmd_host(int argc, char **argv);     /* cmd_host.c */

struct jit_config;

/* "cli:NAME" (NAME: the login name running jit-ca) into out, the actor
 * of the audit entries a command writes. */
void cmd_actor(char *out, size_t len);

/* Print "jit-ca CMD: message\n" to stderr. */
void cmd_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Load the server config at path (the built-in defaults when path is NULL)
 * into *cfg, then point *data and *policies at the config's data directory
 * and policy path where they are still NULL (either pointer may be NULL:
 * not wanted).  The strings they then point at belong to cfg and stay valid
 * until jit_config_release(cfg).
 *
 * Returns 0, or a negative JIT_ERR_* after printing "jit-ca CMD: message"
 * (the loader's message naming the file, else the error); *cfg is then
 * released and may be released again.
 */
int cmd_config_load(const char *cmd, const char *path, struct jit_config *cfg,
    const char **data, const char **policies);

struct jit_cadir_pass;

/*
 * Fill *pass with a command's passphrase sources (cadir.h): file is
 * --passphrase-file (NULL: not given; borrowed, must outlive *pass); the
 * systemd credential is always a source; a no-echo prompt on the terminal
 * is one when stdin is a terminal (passphrase.c).  The prompt lets
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT through while it waits, restoring
 * the terminal before they end the process.
 */
void cmd_pass_init(struct jit_cadir_pass *pass, const char *file);

/*
 * Offline signing in the record (sign_record.c).  cmd_sign_store_open()
 * opens cfg's store: its PostgreSQL database when cfg names one, else
 * the LMDB store of data if there is one (*out NULL when the directory
 * has none: its certificates are unaudited); err receives a message.
 * cmd_sign_serial() checks that a given serial was never used by the
 * store (CONFLICT) or, given 0, reserves the next one.  cmd_sign_record() stores the certificate's
 * record, claims its serial and appends its cert.issue audit entry (actor
 * "operator:USER", "offline": true) in one write: CONFLICT when the
 * serial was used meanwhile.
 */
struct jit_store;
struct jit_cert_spec;
int cmd_sign_store_open(const struct jit_config *cfg, const char *data,
    struct jit_store **out, char *err, size_t errlen);
int cmd_sign_serial(struct jit_store *s, uint64_t given, uint64_t *serial);
int cmd_sign_record(struct jit_store *s, const struct jit_cert_spec *spec,
    const char *line, const char *key_fp, const char *ca_fp);

#endif
