/*
 * pg_defer.c - the writer's deferred rows (pg_int.h): request inserts
 * and updates, audit entries, named values and cert records that a batch
 * writes with one statement per table instead of one per row (values and
 * updates: the last of each key).  A closure whose writes
 * are all deferred sends no statement (not even a savepoint, pg_env.c),
 * so a batch of them costs the writer two round trips, whatever its
 * size.
 *
 * A row is kept here until the batch ends, or until a statement that
 * reads its table is sent on the writer's connection (pg_conn.c asks
 * through the connection's flush hook), so every statement of the batch
 * sees the rows of the closures before it, as if each had been written at
 * once.  The rows go as arrays (binary text[], one per column) to
 * statements that unnest them; a flush is sent without waiting, and
 * fails when a key exists (an id, a serial: STORE_RETRY for the whole
 * batch; an audit seq: STORE_CORRUPT) or an updated request does not
 * (STORE), as the statement fails in the server, which then does not
 * commit.  Not CONFLICT: the closures of the batch cannot tell whose row
 * it was, and most of them did nothing wrong (store.h).
 *
 * Savepoints: a flush in the middle of closure k sends the rows of the
 * closures before k inside k's savepoint.  When k fails, its rollback
 * undoes them too, so jit_pg_defer_undo() makes them unsent again (they
 * go with the next flush) and drops k's own rows.  A flush that fails
 * fails the closure it ran in and, sent again, the batch: the rows of
 * closures already reported done cannot be written, so none of the batch
 * is kept.
 */
#include "pg_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define TEXT_OID 25u

/* The statement of each table and its number of columns. */
static const struct {
	enum jit_pg_stmt st;
	int ncols;
	int rows_code;     /* when fewer rows were written than sent */
	int last;          /* only the last row of each key (column 0) */
	int one_row;       /* it answers one row, not the rows written */
} tabs[PG_D_TABLES] = {
	{ ST_REQ_INSERT_MANY, 8, JIT_ERR_STORE_RETRY, 0, 0 },
	{ ST_AUD_PUT_MANY, 2, JIT_ERR_STORE_CORRUPT, 0, 0 },
	{ ST_VAL_PUT_MANY, 2, JIT_ERR_STORE, 1, 0 },
	{ ST_CERT_PUT_MANY, 2, JIT_ERR_STORE_RETRY, 0, 0 },
	{ ST_REQ_UPDATE_MANY, 7, JIT_ERR_NOT_FOUND, 1, 1 },
};

static void
free_rows(struct jit_pg_dtab *d, int ncols, size_t from)
{
	for (size_t i = from * (size_t)ncols; i < d->n * (size_t)ncols; i++)
		free(d->cell[i]);
	d->n = from;
}

static void
set_pending(struct jit_pg *pg)
{
	unsigned m = 0;

	for (int k = 0; k < PG_D_TABLES; k++)
		if (pg->defer[k].sent < pg->defer[k].n)
			m |= 1u << k;
	if (pg->wc != NULL)
		pg->wc->pending = m;
}

int
jit_pg_defer_add(struct jit_pg *pg, int tab, const char *const *cells,
    const size_t *lens)
{
	struct jit_pg_dtab *d = &pg->defer[tab];
	int nc = tabs[tab].ncols;
	size_t base;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		char **c = realloc(d->cell, cap * (size_t)nc * sizeof(*c));
		size_t *l;

		if (c == NULL)
			return JIT_ERR_ALLOC;
		d->cell = c;
		if ((l = realloc(d->len, cap * (size_t)nc * sizeof(*l))) == NULL)
			return JIT_ERR_ALLOC;
		d->len = l;
		d->cap = cap;
	}
	base = d->n * (size_t)nc;
	/* Every cell first, so a failure below frees only this row's. */
	for (int j = 0; j < nc; j++) {
		d->cell[base + (size_t)j] = NULL;
		d->len[base + (size_t)j] = 0;
	}
	for (int j = 0; j < nc; j++) {
		if (cells[j] == NULL)
			continue;
		if ((d->cell[base + (size_t)j] = malloc(lens[j] + 1)) == NULL) {
			d->n++;
			free_rows(d, nc, d->n - 1);
			return JIT_ERR_ALLOC;
		}
		memcpy(d->cell[base + (size_t)j], cells[j], lens[j]);
		d->cell[base + (size_t)j][lens[j]] = '\0';
		d->len[base + (size_t)j] = lens[j];
	}
	d->n++;
	set_pending(pg);
	return 0;
}

void
jit_pg_defer_mark(struct jit_pg *pg)
{
	for (int k = 0; k < PG_D_TABLES; k++) {
		pg->defer[k].mark_n = pg->defer[k].n;
		pg->defer[k].mark_sent = pg->defer[k].sent;
	}
}

void
jit_pg_defer_undo(struct jit_pg *pg)
{
	for (int k = 0; k < PG_D_TABLES; k++) {
		struct jit_pg_dtab *d = &pg->defer[k];

		free_rows(d, tabs[k].ncols, d->mark_n);
		d->sent = d->mark_sent;
	}
	set_pending(pg);
}

void
jit_pg_defer_clear(struct jit_pg *pg)
{
	for (int k = 0; k < PG_D_TABLES; k++) {
		free_rows(&pg->defer[k], tabs[k].ncols, 0);
		pg->defer[k].sent = pg->defer[k].mark_n =
		    pg->defer[k].mark_sent = 0;
	}
	set_pending(pg);
}

void
jit_pg_defer_free(struct jit_pg *pg)
{
	jit_pg_defer_clear(pg);
	for (int k = 0; k < PG_D_TABLES; k++) {
		free(pg->defer[k].cell);
		free(pg->defer[k].len);
		memset(&pg->defer[k], 0, sizeof(pg->defer[k]));
	}
}

static void
put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* Column j of the rows of d whose keep[] is set (all if keep is NULL),
 * from row d->sent on, as PostgreSQL's binary form of a text[]. */
static int
array_of(const struct jit_pg_dtab *d, int nc, int j, const unsigned char *keep,
    size_t rows, char **out, int *outlen)
{
	size_t total = 20, off = 0;
	unsigned char *p;
	int nulls = 0;

	for (size_t i = d->sent; i < d->n; i++) {
		size_t c = i * (size_t)nc + (size_t)j;

		if (keep != NULL && !keep[i - d->sent])
			continue;
		total += 4 + d->len[c];
		nulls |= d->cell[c] == NULL;
	}
	if (total > INT32_MAX || rows > INT32_MAX ||
	    (p = malloc(total)) == NULL)
		return JIT_ERR_ALLOC;
	put32(p, 1);                        /* dimensions */
	put32(p + 4, (uint32_t)nulls);      /* has nulls */
	put32(p + 8, TEXT_OID);
	put32(p + 12, (uint32_t)rows);
	put32(p + 16, 1);                   /* lower bound */
	off = 20;
	for (size_t i = d->sent; i < d->n; i++) {
		size_t c = i * (size_t)nc + (size_t)j;

		if (keep != NULL && !keep[i - d->sent])
			continue;
		if (d->cell[c] == NULL) {
			put32(p + off, UINT32_MAX);     /* -1: NULL */
			off += 4;
			continue;
		}
		put32(p + off, (uint32_t)d->len[c]);
		memcpy(p + off + 4, d->cell[c], d->len[c]);
		off += 4 + d->len[c];
	}
	*out = (char *)p;
	*outlen = (int)off;
	return 0;
}

/* A row to send by its key, for sorting. */
struct keyed_row {
	const char *key;
	size_t i;                /* from d->sent */
};

static int
keyed_row_cmp(const void *va, const void *vb)
{
	const struct keyed_row *a = va, *b = vb;
	int c = strcmp(a->key, b->key);

	return c != 0 ? c : (a->i > b->i) - (a->i < b->i);
}

/* Of the rows to send, the last of each key (column 0: a statement may
 * not change a row twice), in keep[]; the number kept, or -1 without
 * memory.  Sorted by key, then by row, so n log n: a batch has up to
 * max_batch rows, all with different keys as a rule. */
static long
last_of_each_key(const struct jit_pg_dtab *d, int nc, unsigned char *keep)
{
	size_t n = d->n - d->sent, w = (size_t)nc;
	struct keyed_row *rows;
	long kept = 0;

	if ((rows = malloc((n > 0 ? n : 1) * sizeof(*rows))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		rows[i].key = d->cell[(d->sent + i) * w];
		rows[i].i = i;
	}
	qsort(rows, n, sizeof(*rows), keyed_row_cmp);
	for (size_t i = 0; i < n; i++) {
		keep[rows[i].i] = i + 1 == n ||
		    strcmp(rows[i + 1].key, rows[i].key) != 0;
		kept += keep[rows[i].i];
	}
	free(rows);
	return kept;
}

static int
flush_tab(struct jit_pg *pg, int k)
{
	struct jit_pg_dtab *d = &pg->defer[k];
	int nc = tabs[k].ncols, lens[8], r = 0;
	char *arr[8] = { NULL };
	unsigned char *keep = NULL;
	size_t rows = d->n - d->sent;

	if (tabs[k].last) {
		long kept;

		if ((keep = malloc(rows > 0 ? rows : 1)) == NULL)
			return JIT_ERR_ALLOC;
		if ((kept = last_of_each_key(d, nc, keep)) < 0) {
			free(keep);
			return JIT_ERR_ALLOC;
		}
		rows = (size_t)kept;
	}
	for (int j = 0; j < nc && r == 0; j++)
		r = array_of(d, nc, j, keep, rows, &arr[j], &lens[j]);
	if (r == 0)
		r = jit_pg_run_rows(pg->wc, tabs[k].st, nc,
		    (const char *const *)arr, lens,
		    tabs[k].one_row ? 1 : (long)rows, tabs[k].rows_code);
	if (r == 0)
		d->sent = d->n;
	for (int j = 0; j < nc; j++)
		free(arr[j]);
	free(keep);
	return r;
}

int
jit_pg_defer_flush(struct jit_pg *pg, unsigned mask)
{
	int r = 0;

	for (int k = 0; k < PG_D_TABLES && r == 0; k++)
		if ((mask & (1u << k)) && pg->defer[k].sent < pg->defer[k].n)
			r = flush_tab(pg, k);
	set_pending(pg);
	return r;
}
