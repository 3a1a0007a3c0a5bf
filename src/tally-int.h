/*
 * tally-int.h: internals shared by libtally's files, tallyd, the CLI and the
 * munin plugin.  Nothing here is public or stable.  Sectioned by file, as
 * tmux does; a function's prefix is its file's name.
 */
#ifndef TALLY_INT_H
#define TALLY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <lmdb.h>

#include "tally.h"

#if defined(__GNUC__)
#define TALLY_LIKELY(x)   __builtin_expect(!!(x), 1)
#define TALLY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TALLY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TALLY_LIKELY(x)   (x)
#define TALLY_UNLIKELY(x) (x)
#define TALLY_PRINTF(f, a)
#endif

/* A caller-supplied buffer for a human message, as redis' anet does. */
#define TALLY_ERRLEN 512

/* name.c */
int	 name_node_id_valid(const char *, size_t);
int	 name_stat_valid(const char *, size_t);
int	 name_nickname_valid(const char *, size_t);
/*
 * Turn an arbitrary string into a valid munin field name: [A-Za-z0-9_],
 * never starting with a digit, at most NAME_FIELD_MAX bytes.  Writes a NUL
 * terminated result into out (size >= NAME_FIELD_MAX + 1) and returns 1 if
 * the result differs from the input (characters replaced or cut), else 0.
 */
#define NAME_FIELD_MAX 64
int	 name_munin_field(const char *, size_t, char *);

/* record.c: the text encoding of every database value. */
#define RECORD_NUMLEN 32	/* enough for any int64 or double text */
size_t	 record_fmt_int64(char *, int64_t);
size_t	 record_fmt_double(char *, double);
int	 record_parse_int64(const char *, size_t, int64_t *);
int	 record_parse_double(const char *, size_t, double *);
/* The nodes record: "nickname=..\ntime=..\nsource=..\n", one field a line. */
struct record_node {
	char	 nickname[TALLY_NICKNAME_MAX + 1];
	int64_t	 time;
	char	 source[128];
	double	 interval;	/* 0 when absent */
};
int	 record_node_fmt(char *, size_t, const struct record_node *);
int	 record_node_parse(const char *, size_t, struct record_node *,
	     char *, size_t);

/* snapshot.c: one node's counters and stats, built at each flush. */
struct snapshot_ent {
	size_t	 name;		/* offset of the NUL-terminated name in arena */
	uint16_t nlen;
	uint32_t seq;		/* insertion order, so the last put wins */
	union {
		int64_t	 i;
		double	 d;
	} v;
};
struct snapshot {
	struct snapshot_ent	*counters;
	size_t			 ncounters, ccap;
	struct snapshot_ent	*stats;
	size_t			 nstats, scap;
	char			*arena;
	size_t			 alen, acap;
	uint32_t		 seq;
};
void	 snapshot_init(struct snapshot *);
void	 snapshot_reset(struct snapshot *);
void	 snapshot_free(struct snapshot *);
int	 snapshot_add_counter(struct snapshot *, const char *, size_t, int64_t);
int	 snapshot_add_stat(struct snapshot *, const char *, size_t, double);
void	 snapshot_truncate_stats(struct snapshot *, size_t);
/* Sort both arrays by name and drop duplicates, keeping the last put. */
void	 snapshot_finish(struct snapshot *);
static inline const char *
snapshot_name(const struct snapshot *s, const struct snapshot_ent *e)
{
	return s->arena + e->name;
}

/* store.c: the LMDB environment (see DESIGN.md, "The database"). */
#define STORE_RDONLY 0x1
#define STORE_MAPSIZE_MIN	(64UL << 20)
#define STORE_MAPSIZE_MAX	(1UL << 40)
#define STORE_MAXDBS		8
#define STORE_MAXREADERS	510
enum store_db { STORE_META, STORE_NODES, STORE_COUNTERS, STORE_STATS,
	STORE_NDB };
struct store;
/* The smallest map a store opens with; tests lower it to exercise growth. */
extern size_t store_mapsize_min;
/*
 * Open (or share, reference-counted, within this process) the environment
 * at path.  Writers pre-create lock.mdb and data.mdb 0660 and set the
 * format on a new environment; readers need an existing one.  Returns 0 or
 * a TALLY_E* code with a message in err.
 */
int	 store_open(struct store **, const char *, int, char *, size_t);
void	 store_close(struct store *);
const char *store_path(const struct store *);
/* Replace a node's whole slot in one transaction; grows the map as needed. */
int	 store_write_slot(struct store *, const char *,
	     const struct record_node *, const struct snapshot *,
	     char *, size_t);
/* Call cb for each counter of node's slot. */
int	 store_read_counters(struct store *, const char *,
	     int (*)(void *, const char *, size_t, int64_t), void *,
	     char *, size_t);
/* Delete a node's slot entirely. */
int	 store_delete_slot(struct store *, const char *, char *, size_t);

/* A read transaction for readers (plugin, CLI): begin, walk, end. */
struct store_reader {
	struct store	*st;
	MDB_txn		*txn;
	MDB_cursor	*nodes;
};
int	 store_reader_begin(struct store *, struct store_reader *,
	     char *, size_t);
/* Next node: 1 and its id/record, 0 at the end, or a TALLY_E* code. */
int	 store_reader_next(struct store_reader *, MDB_val *, MDB_val *);
/* Look up <node>/<stat> in db; 1 found, 0 not, or a TALLY_E* code. */
int	 store_reader_get(struct store_reader *, enum store_db,
	     const char *, size_t, const char *, size_t, MDB_val *);
void	 store_reader_end(struct store_reader *);

/* counter.c: per-thread cells and the per-provider name table. */
struct counter_set;
int	 counter_set_new(struct counter_set **);
void	 counter_set_free(struct counter_set *);
/* Look up or create; NULL with *err set on failure. */
tally_counter *counter_set_get(struct counter_set *, const char *, int *);
/* Add value to a counter's base, creating it if needed (resume). */
int	 counter_set_resume(struct counter_set *, const char *, size_t,
	     int64_t);
/* Append every counter's current value to a snapshot. */
int	 counter_set_collect(struct counter_set *, struct snapshot *);
size_t	 counter_set_count(struct counter_set *);

/* monitor.c: the built-in producers. */
struct monitor;
struct ev_loop;
int	 monitor_new(struct monitor **, tally_provider *);
void	 monitor_start(struct monitor *, struct ev_loop *);
void	 monitor_stop(struct monitor *, struct ev_loop *);
int	 monitor_get_stats(struct monitor *, tally_sink *);
void	 monitor_free(struct monitor *);

/* provider.c */
void	 provider_log(tally_provider *, int, const char *, ...)
	     TALLY_PRINTF(3, 4);

/* nodedir.c: the files of a node directory. */
/* Read the first line of dir/name into a malloc'd string; 0, or
 * TALLY_ENOTFOUND if absent, or TALLY_ESYS with a message. */
int	 nodedir_read_line(const char *, const char *, char **, char *,
	     size_t);
/* Read dir/node.id, creating it with a random id on first use. */
int	 nodedir_node_id(const char *, char *, char *, size_t);

#endif /* TALLY_INT_H */
