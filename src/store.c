/*
 * store.c: the LMDB environment that holds every node's slot.
 *
 * The layout (tally(5)) is a contract read by munin, the CLI and
 * mdb_dump: named databases meta, nodes, counters and stats, with text
 * keys and values.  This file is the only one that writes it.
 *
 * LMDB's rules, and how this file keeps them:
 *  - an environment must be opened once per process: environments are
 *    shared through a reference-counted list keyed by the directory's
 *    device and inode;
 *  - the map size may change only with no transaction active in the
 *    process: every transaction runs under the store's mutex, so a writer
 *    that hits MDB_MAP_FULL aborts, grows the map and retries, and a
 *    MDB_MAP_RESIZED from another process is adopted the same way;
 *  - an environment must not be used across fork(): the store remembers
 *    its pid and refuses (TALLY_EFORK) in a child, never closing there,
 *    since closing would clear the parent's reader slots;
 *  - readers need write access to lock.mdb: writers pre-create lock.mdb
 *    and data.mdb with mode 0660 so that a setgid directory lets a group
 *    (the munin plugin's) read.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"

struct store {
	struct store	*next;
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	int		 flags;
	int		 refs;
	pid_t		 pid;
	MDB_env		*env;
	MDB_dbi		 dbi[STORE_NDB];
	pthread_mutex_t	 lock;	/* one transaction at a time */
};

size_t			 store_mapsize_min = STORE_MAPSIZE_MIN;

static pthread_mutex_t	 store_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store	*store_list;

static const char *store_db_names[STORE_NDB] = {
	"meta", "nodes", "counters", "stats"
};

#define STORE_KEYMAX (TALLY_NODE_ID_MAX + 1 + TALLY_STAT_NAME_MAX)
#define STORE_RECMAX 1024	/* a nodes record: nickname, source, numbers */


const char *
store_path(const struct store *s)
{
	return s->path;
}

/* Create path/name with mode 0660 whatever the umask, if it is missing. */
static int
store_precreate(const char *path, const char *name, char *err,
    size_t errlen)
{
	char	 file[4096];
	int	 fd;

	if ((size_t)snprintf(file, sizeof file, "%s/%s", path, name) >=
	    sizeof file)
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile %s: path too long", path);
	fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd >= 0) {
		if (fchmod(fd, 0660) != 0) {
			int e = errno;
			close(fd);
			return error_set(err, errlen, TALLY_ESYS,
			    "statsfile %s: chmod %s: %s", path, name,
			    strerror(e));
		}
		close(fd);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return error_set(err, errlen, TALLY_ESYS, "statsfile %s: cannot "
	    "create %s: %s", path, name, strerror(errno));
}

static int
store_lmdb_err(const struct store *s, int rc, char *err, size_t errlen,
    const char *what)
{
	if (rc == MDB_INVALID)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "not an LMDB environment (%s)", s->path, mdb_strerror(rc));
	if (rc == MDB_VERSION_MISMATCH)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "written by an incompatible LMDB (%s)", s->path,
		    mdb_strerror(rc));
	if (rc == EACCES && (s->flags & STORE_RDONLY))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "%s: %s (readers need write access to lock.mdb; put the "
		    "reader in the statsfile's group)", s->path, what,
		    mdb_strerror(rc));
	if (rc == ENOMEM)
		return error_set(err, errlen, TALLY_ENOMEM, "statsfile %s: "
		    "%s: %s", s->path, what, mdb_strerror(rc));
	return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s: %s",
	    s->path, what, mdb_strerror(rc));
}

/* Begin a transaction; the caller holds s->lock. */
static int
store_txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int	 rc, tries;

	for (tries = 0; tries < 4; tries++) {
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			return rc;
		/* Another process grew the map: adopt its size. */
		if ((rc = mdb_env_set_mapsize(s->env, 0)) != 0)
			return rc;
	}
	return MDB_MAP_RESIZED;
}

static int
store_check_format(struct store *s, MDB_txn *txn, int create, char *err,
    size_t errlen)
{
	MDB_val	 k = { 6, (void *)"format" }, v;
	char	 want[8];
	int	 rc, n;

	n = snprintf(want, sizeof want, "%d", TALLY_DB_FORMAT);
	rc = mdb_get(txn, s->dbi[STORE_META], &k, &v);
	if (rc == MDB_NOTFOUND && create) {
		v.mv_data = want;
		v.mv_size = (size_t)n;
		rc = mdb_put(txn, s->dbi[STORE_META], &k, &v, 0);
		if (rc != 0)
			return store_lmdb_err(s, rc, err, errlen, "set format");
		return 0;
	}
	if (rc == MDB_NOTFOUND)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "not a tally database (meta has no format key)", s->path);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "read format");
	if (v.mv_size != (size_t)n || memcmp(v.mv_data, want, n) != 0)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "database format '%.*s' is not supported (this tally "
		    "reads format %d)", s->path, (int)(v.mv_size > 32 ? 32 :
		    v.mv_size), (const char *)v.mv_data, TALLY_DB_FORMAT);
	return 0;
}

/*
 * Open the named databases.  A writer creates them in a new environment,
 * but refuses an environment that holds something else: its main
 * database's keys would then not be exactly our four tables.
 */
static int
store_open_dbs(struct store *s, char *err, size_t errlen)
{
	MDB_txn		*txn;
	MDB_dbi		 main;
	MDB_stat	 ms;
	int		 rc, i, rdonly = s->flags & STORE_RDONLY;
	unsigned	 flags = rdonly ? 0 : MDB_CREATE;

	if ((rc = store_txn_begin(s, rdonly ? MDB_RDONLY : 0, &txn)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "begin");
	if (!rdonly) {
		MDB_val k = { 4, (void *)"meta" }, v;
		if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0 ||
		    (rc = mdb_stat(txn, main, &ms)) != 0)
			goto lmdb;
		if (ms.ms_entries > 0 && mdb_get(txn, main, &k, &v) ==
		    MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: an LMDB environment, but not a "
			    "tally database (no meta table)", s->path);
		}
	}
	for (i = 0; i < STORE_NDB; i++) {
		/* Meta first: an unknown format is refused by its name. */
		if (i == STORE_NODES && (rc = store_check_format(s, txn,
		    !rdonly, err, errlen)) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
		rc = mdb_dbi_open(txn, store_db_names[i], flags, &s->dbi[i]);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: not a tally database (no %s table)",
			    s->path, store_db_names[i]);
		}
		if (rc == MDB_INCOMPATIBLE) {
			mdb_txn_abort(txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: not a tally database (%s is not a "
			    "table)", s->path, store_db_names[i]);
		}
		if (rc != 0)
			goto lmdb;
	}
	/* Committing, even read-only, keeps the handles for later txns. */
	if ((rc = mdb_txn_commit(txn)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "commit");
	return 0;
lmdb:
	mdb_txn_abort(txn);
	return store_lmdb_err(s, rc, err, errlen, "open tables");
}

static int
store_open_env(struct store *s, char *err, size_t errlen)
{
	char		 file[4096];
	struct stat	 sb;
	unsigned	 flags = MDB_NOTLS | MDB_NOMETASYNC;
	int		 rc, dead;

	if (s->flags & STORE_RDONLY) {
		/* Don't let a reader create an empty environment. */
		snprintf(file, sizeof file, "%s/data.mdb", s->path);
		if (stat(file, &sb) != 0)
			return error_set(err, errlen, TALLY_ESTORE,
			    "statsfile %s: no database yet (%s; has any node "
			    "written to it?)", s->path, strerror(errno));
		flags |= MDB_RDONLY;
	} else {
		if (access(s->path, W_OK) != 0)
			return error_set(err, errlen, TALLY_ESYS,
			    "statsfile %s: not writable: %s", s->path,
			    strerror(errno));
		if ((rc = store_precreate(s->path, "lock.mdb", err,
		    errlen)) != 0 ||
		    (rc = store_precreate(s->path, "data.mdb", err,
		    errlen)) != 0)
			return rc;
	}
	if ((rc = mdb_env_create(&s->env)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "create");
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, store_mapsize_min)) != 0)
		goto fail;
	if ((rc = mdb_env_open(s->env, s->path, flags, 0660)) != 0)
		goto fail;
	/* Free the reader slots of processes that died holding them. */
	mdb_reader_check(s->env, &dead);
	if ((rc = store_open_dbs(s, err, errlen)) != 0) {
		mdb_env_close(s->env);
		s->env = NULL;
		return rc;
	}
	return 0;
fail:
	store_lmdb_err(s, rc, err, errlen, "open");
	mdb_env_close(s->env);
	s->env = NULL;
	return rc == ENOMEM ? TALLY_ENOMEM : TALLY_ESTORE;
}

int
store_open(struct store **sp, const char *path, int flags, char *err,
    size_t errlen)
{
	struct store	*s;
	struct stat	 sb;
	int		 rc;

	*sp = NULL;
	if (path == NULL || *path == '\0')
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile is not set");
	if (stat(path, &sb) != 0)
		return error_set(err, errlen, errno == ENOENT ? TALLY_ESTORE :
		    TALLY_ESYS, "statsfile %s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (it must be an existing directory)" :
		    "");
	if (!S_ISDIR(sb.st_mode))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "not a directory (a statsfile is an LMDB environment "
		    "directory)", path);

	pthread_mutex_lock(&store_list_lock);
	for (s = store_list; s != NULL; s = s->next) {
		if (s->dev != sb.st_dev || s->ino != sb.st_ino ||
		    s->pid != getpid())
			continue;
		if ((s->flags & STORE_RDONLY) && !(flags & STORE_RDONLY)) {
			pthread_mutex_unlock(&store_list_lock);
			return error_set(err, errlen, TALLY_ESTATE,
			    "statsfile %s: already open read-only in this "
			    "process", path);
		}
		s->refs++;
		pthread_mutex_unlock(&store_list_lock);
		*sp = s;
		return 0;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		pthread_mutex_unlock(&store_list_lock);
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->flags = flags;
	s->refs = 1;
	s->pid = getpid();
	pthread_mutex_init(&s->lock, NULL);
	if ((rc = store_open_env(s, err, errlen)) != 0) {
		pthread_mutex_unlock(&store_list_lock);
		pthread_mutex_destroy(&s->lock);
		free(s->path);
		free(s);
		return rc;
	}
	s->next = store_list;
	store_list = s;
	pthread_mutex_unlock(&store_list_lock);
	*sp = s;
	return 0;
}

void
store_close(struct store *s)
{
	struct store	**pp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&store_list_lock);
	if (--s->refs > 0 || s->pid != getpid()) {
		/*
		 * In a child of fork() the parent's environment is neither
		 * closed (that would free the parent's reader slots) nor
		 * freed: it stays on the list, invisible to this process.
		 */
		pthread_mutex_unlock(&store_list_lock);
		return;
	}
	for (pp = &store_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&store_list_lock);
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

static int
store_forked(const struct store *s, char *err, size_t errlen)
{
	if (TALLY_LIKELY(s->pid == getpid()))
		return 0;
	return error_set(err, errlen, TALLY_EFORK, "statsfile %s: opened in "
	    "process %ld, used in its child %ld after fork", s->path,
	    (long)s->pid, (long)getpid());
}

/* Compare an existing key's stat part with a new name, as LMDB orders. */
static int
store_keycmp(const MDB_val *k, size_t plen, const char *name, size_t nlen)
{
	size_t	 klen = k->mv_size - plen, m = klen < nlen ? klen : nlen;
	int	 c = memcmp((const char *)k->mv_data + plen, name, m);

	if (c != 0)
		return c;
	return klen < nlen ? -1 : klen > nlen;
}

/*
 * Make db's keys under "<node>/" exactly the snapshot's entries: one pass
 * over both sorted sequences, writing only what changed, so a flush of an
 * idle node costs reads, not writes.
 */
static int
store_merge(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t plen, const struct snapshot *snap,
    const struct snapshot_ent *ents, size_t n)
{
	MDB_cursor	*cur;
	MDB_val		 k, v, nk, nv;
	char		 key[STORE_KEYMAX], num[RECORD_NUMLEN];
	size_t		 i = 0;
	int		 rc, cmp, have;

	memcpy(key, node, plen - 1);
	key[plen - 1] = '/';
	if ((rc = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0)
		return rc;
	k.mv_data = key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (;;) {
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		have = rc == 0 && k.mv_size > plen &&
		    memcmp(k.mv_data, key, plen) == 0;
		if (!have && i == n) {
			rc = 0;
			break;
		}
		if (i < n) {
			const char *name = snapshot_name(snap, &ents[i]);
			nv.mv_data = num;
			nv.mv_size = db == STORE_COUNTERS ?
			    record_fmt_int64(num, ents[i].v.i) :
			    record_fmt_double(num, ents[i].v.d);
			cmp = !have ? 1 : store_keycmp(&k, plen, name,
			    ents[i].nlen);
			memcpy(key + plen, name, ents[i].nlen);
			nk.mv_data = key;
			nk.mv_size = plen + ents[i].nlen;
		} else
			cmp = -1;
		if (cmp < 0) {		/* gone from the snapshot */
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
		} else if (cmp == 0) {
			/*
			 * Kept: write only if changed.  Not MDB_CURRENT, which
			 * loses the cursor's place when the size changes.
			 */
			i++;
			if (v.mv_size == nv.mv_size &&
			    memcmp(v.mv_data, nv.mv_data, nv.mv_size) == 0)
				;
			else if ((rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0)
				break;
		} else {		/* new in the snapshot */
			i++;
			if ((rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc;
}

static int
store_write_txn(struct store *s, MDB_txn *txn, const char *node,
    size_t nlen, const struct record_node *rn, const struct snapshot *snap)
{
	char	 rec[STORE_RECMAX];
	MDB_val	 k, v;
	int	 n, rc;

	if ((n = record_node_fmt(rec, sizeof rec, rn)) < 0)
		return EINVAL;	/* checked by store_write_slots already */
	k.mv_data = (void *)node;
	k.mv_size = nlen;
	v.mv_data = rec;
	v.mv_size = (size_t)n;
	if ((rc = mdb_put(txn, s->dbi[STORE_NODES], &k, &v, 0)) != 0)
		return rc;
	if ((rc = store_merge(s, txn, STORE_COUNTERS, node, nlen + 1, snap,
	    snap->counters, snap->ncounters)) != 0)
		return rc;
	return store_merge(s, txn, STORE_STATS, node, nlen + 1, snap,
	    snap->stats, snap->nstats);
}

static int
store_grow(struct store *s, char *err, size_t errlen)
{
	MDB_envinfo	 info;
	size_t		 size;
	int		 rc;

	mdb_env_info(s->env, &info);
	size = info.me_mapsize * 2;
	if (size > STORE_MAPSIZE_MAX)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "map is full at its limit of %zu bytes", s->path,
		    info.me_mapsize);
	if ((rc = mdb_env_set_mapsize(s->env, size)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "grow map");
	return 0;
}

int
store_write_slots(struct store *s, const struct store_slot *slots, size_t n,
    char *err, size_t errlen)
{
	MDB_txn	*txn;
	size_t	 i;
	int	 rc = 0, tries;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", s->path);
	/* Refuse a bad slot before the batch's transaction, not inside it. */
	for (i = 0; i < n; i++) {
		char	 rec[STORE_RECMAX];

		if (!name_node_id_valid(slots[i].node_id,
		    strlen(slots[i].node_id)))
			return error_set(err, errlen, TALLY_EINVAL,
			    "invalid node id");
		if (record_node_fmt(rec, sizeof rec, slots[i].rn) < 0)
			return error_set(err, errlen, TALLY_EINVAL,
			    "node %s: record too long", slots[i].node_id);
	}
	pthread_mutex_lock(&s->lock);
	for (tries = 0; tries < 16; tries++) {
		if ((rc = store_txn_begin(s, 0, &txn)) != 0)
			break;
		for (i = 0; i < n && rc == 0; i++)
			rc = store_write_txn(s, txn, slots[i].node_id,
			    strlen(slots[i].node_id), slots[i].rn,
			    slots[i].snap);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc != MDB_MAP_FULL)
			break;
		/* No transaction is active now: the map may grow. */
		if ((rc = store_grow(s, err, errlen)) != 0) {
			pthread_mutex_unlock(&s->lock);
			return rc;
		}
		rc = MDB_MAP_FULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "write slot");
	return 0;
}

int
store_write_slot(struct store *s, const char *node,
    const struct record_node *rn, const struct snapshot *snap, char *err,
    size_t errlen)
{
	struct store_slot	 slot = { node, rn, snap };

	return store_write_slots(s, &slot, 1, err, errlen);
}

int
store_read_counters(struct store *s, const char *node,
    int (*cb)(void *, const char *, size_t, int64_t), void *ctx, char *err,
    size_t errlen)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 key[TALLY_NODE_ID_MAX + 1];
	size_t		 plen = strlen(node) + 1;
	int64_t		 n;
	int		 rc, bad = 0;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (plen - 1 > TALLY_NODE_ID_MAX)
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	memcpy(key, node, plen - 1);
	key[plen - 1] = '/';
	pthread_mutex_lock(&s->lock);
	if ((rc = store_txn_begin(s, MDB_RDONLY, &txn)) != 0) {
		pthread_mutex_unlock(&s->lock);
		return store_lmdb_err(s, rc, err, errlen, "begin");
	}
	if ((rc = mdb_cursor_open(txn, s->dbi[STORE_COUNTERS], &cur)) != 0)
		goto out;
	k.mv_data = key;
	k.mv_size = plen;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if (record_parse_int64(v.mv_data, v.mv_size, &n) != 0 ||
		    !name_stat_valid((const char *)k.mv_data + plen,
		    k.mv_size - plen)) {
			bad++;
			continue;
		}
		if ((rc = cb(ctx, (const char *)k.mv_data + plen,
		    k.mv_size - plen, n)) != 0)
			break;
	}
	mdb_cursor_close(cur);
out:
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && rc > -3100 && rc <= -3000)
		return rc;	/* the callback's own TALLY_E* code */
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_lmdb_err(s, rc, err, errlen, "read counters");
	if (bad > 0)
		error_set(err, errlen, 0, "statsfile %s: skipped %d "
		    "unreadable counters of node %s", s->path, bad, node);
	return 0;
}

static int
store_delete_prefix(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t plen)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, key,
	    plen) == 0) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete node's slot; with before > INT64_MIN, only if older than that. */
static int
store_delete(struct store *s, const char *node, int64_t before, char *err,
    size_t errlen)
{
	struct record_node	 rn;
	MDB_txn			*txn;
	MDB_val			 k, v;
	char			 key[TALLY_NODE_ID_MAX + 1], why[64];
	const char		*kept = NULL;
	size_t			 nlen = strlen(node);
	int			 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (!name_node_id_valid(node, nlen))
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	memcpy(key, node, nlen);
	key[nlen] = '/';
	pthread_mutex_lock(&s->lock);
	if ((rc = store_txn_begin(s, 0, &txn)) != 0)
		goto out;
	k.mv_data = (void *)node;
	k.mv_size = nlen;
	if (before > INT64_MIN && (rc = mdb_get(txn, s->dbi[STORE_NODES], &k,
	    &v)) == 0) {
		if (record_node_parse(v.mv_data, v.mv_size, &rn, why,
		    sizeof why) != 0)
			kept = why;
		else if (rn.time >= before)
			kept = "its snapshot is not that old";
		if (kept != NULL) {
			mdb_txn_abort(txn);
			pthread_mutex_unlock(&s->lock);
			return error_set(err, errlen, TALLY_ESTATE, "statsfile "
			    "%s: node %s kept: %s", s->path, node, kept);
		}
	}
	if (rc == 0)
		rc = mdb_del(txn, s->dbi[STORE_NODES], &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		pthread_mutex_unlock(&s->lock);
		return error_set(err, errlen, TALLY_ENOTFOUND, "statsfile %s: "
		    "no node %s", s->path, node);
	}
	if (rc == 0)
		rc = store_delete_prefix(txn, s->dbi[STORE_COUNTERS], key,
		    nlen + 1);
	if (rc == 0)
		rc = store_delete_prefix(txn, s->dbi[STORE_STATS], key,
		    nlen + 1);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
out:
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "delete slot");
	return 0;
}

int
store_delete_slot(struct store *s, const char *node, char *err,
    size_t errlen)
{
	return store_delete(s, node, INT64_MIN, err, errlen);
}

int
store_delete_slot_before(struct store *s, const char *node, int64_t before,
    char *err, size_t errlen)
{
	return store_delete(s, node, before, err, errlen);
}

/*
 * Readers hold the store's mutex from begin to end, so no writer of this
 * process resizes the map under them.  Readers of other processes never
 * block: LMDB readers and writers don't wait for each other.
 */
int
store_reader_begin(struct store *s, struct store_reader *r, char *err,
    size_t errlen)
{
	int	 rc;

	memset(r, 0, sizeof *r);
	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if ((rc = store_txn_begin(s, MDB_RDONLY, &r->txn)) != 0 ||
	    (rc = mdb_cursor_open(r->txn, s->dbi[STORE_NODES],
	    &r->nodes)) != 0) {
		if (r->txn != NULL)
			mdb_txn_abort(r->txn);
		pthread_mutex_unlock(&s->lock);
		r->txn = NULL;
		return store_lmdb_err(s, rc, err, errlen, "begin read");
	}
	r->st = s;
	return 0;
}

int
store_reader_next(struct store_reader *r, MDB_val *id, MDB_val *rec)
{
	int	 rc;

	rc = mdb_cursor_get(r->nodes, id, rec, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : TALLY_ESTORE;
}

int
store_reader_get(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, const char *stat, size_t slen, MDB_val *val)
{
	char	 key[STORE_KEYMAX];
	MDB_val	 k;
	int	 rc;

	if (nlen > TALLY_NODE_ID_MAX || slen > TALLY_STAT_NAME_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	memcpy(key + nlen + 1, stat, slen);
	k.mv_data = key;
	k.mv_size = nlen + 1 + slen;
	rc = mdb_get(r->txn, r->st->dbi[db], &k, val);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : TALLY_ESTORE;
}

int
store_reader_scan(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, int (*cb)(void *, const char *, size_t, const char *,
    size_t), void *ctx)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 key[TALLY_NODE_ID_MAX + 1];
	size_t		 plen = nlen + 1;
	int		 rc, crc = 0;

	if (nlen > TALLY_NODE_ID_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	if (mdb_cursor_open(r->txn, r->st->dbi[db], &cur) != 0)
		return TALLY_ESTORE;
	k.mv_data = key;
	k.mv_size = plen;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if ((crc = cb(ctx, (const char *)k.mv_data + plen,
		    k.mv_size - plen, v.mv_data, v.mv_size)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (crc != 0)
		return crc;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TALLY_ESTORE;
}

int
store_reader_walk(struct store_reader *r, enum store_db db,
    int (*cb)(void *, const char *, size_t, const char *, size_t), void *ctx)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc, crc = 0;

	if (mdb_cursor_open(r->txn, r->st->dbi[db], &cur) != 0)
		return TALLY_ESTORE;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((crc = cb(ctx, k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (crc != 0)
		return crc;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TALLY_ESTORE;
}

void
store_reader_end(struct store_reader *r)
{
	if (r->txn == NULL)
		return;
	mdb_cursor_close(r->nodes);
	mdb_txn_abort(r->txn);
	pthread_mutex_unlock(&r->st->lock);
	r->txn = NULL;
}
