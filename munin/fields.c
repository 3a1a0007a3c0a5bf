/*
 * fields.c: the munin field names of the tally_ plugin: a node's name
 * from its nickname and id, cleaned to what munin takes, with a hash of
 * the id where the id had to change, and made unique within a run.
 *
 * munin keys its RRD files by field name, so a node's field name must
 * never change between tally versions: the cleaning (plugin_munin_field)
 * and the hash (plugin_hash, FNV-1a) are fixed, and t/check_plugin.c pins
 * their output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* The bytes a munin field name keeps, [A-Za-z0-9_]; others become '_'. */
static const unsigned char plugin_field_byte[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['_'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

int
plugin_munin_field(const char *s, size_t len, char *out)
{
	size_t	i, n, o = 0;
	int	changed = 0;

	if (len == 0 || (s[0] >= '0' && s[0] <= '9')) {
		out[o++] = '_';
		changed = 1;
	}
	n = len < PLUGIN_NAME_MAX - o ? len : PLUGIN_NAME_MAX - o;
	for (i = 0; i < n; i++) {
		unsigned char c = s[i], keep = plugin_field_byte[c];
		out[o + i] = keep ? c : '_';
		changed |= !keep;
	}
	if (n < len)
		changed = 1;
	out[o + n] = '\0';
	return changed;
}

/* v in decimal, as printf writes it, without printf. */
size_t
plugin_fmt_int64(char *num, int64_t v)
{
	char		 tmp[24], *p = tmp + sizeof tmp;
	uint64_t	 u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t		 n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	n = (size_t)(tmp + sizeof tmp - p);
	memcpy(num, p, n);
	num[n] = '\0';
	return n;
}

/* FNV-1a, 32 bits: the field names' suffix, so it never changes. */
#define PLUGIN_FNV_BASIS	2166136261u
#define PLUGIN_FNV_PRIME	16777619u

uint32_t
plugin_hash(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	uint32_t		 h = PLUGIN_FNV_BASIS;

	while (p < end)
		h = (h ^ *p++) * PLUGIN_FNV_PRIME;
	return h;
}

/* "_" and h in 8 lowercase hex digits, as "_%08x" prints it. */
static void
plugin_hex_suffix(char *out, uint32_t h)
{
	static const char	 hex[] = "0123456789abcdef";
	int			 i;

	out[0] = '_';
	for (i = 8; i >= 1; i--, h >>= 4)
		out[i] = hex[h & 0xf];
	out[9] = '\0';
}

/*
 * Names munin reads as its own settings, not as fields: every graph_*
 * and each of munin's keywords that could be a node's field name (one
 * with a '_', as "<nickname>_<id>" has), from Munin::Common::Config of
 * munin 2.0.  A field of such a name is taken for the setting: a node
 * "title" nicknamed "graph" stopped munin-html for every host.  Sorted,
 * for bsearch.
 */
static const char *const plugin_munin_words[] = {
	"always_send", "category_order", "cdef_name", "cgiurl_graph",
	"create_args", "domain_order", "fetch_data", "group_order",
	"host_name", "html_rename", "html_strategy", "local_address",
	"max_cgi_graph_jobs", "max_graph_jobs", "max_html_jobs",
	"max_messages", "max_processes", "max_size_x", "max_size_y",
	"munin_cgi_graph_jobs", "ncsa_config", "ncsa_server", "node_order",
	"notify_alias", "nsca_config", "nsca_server", "num_messages",
	"num_unknowns", "pipe_command", "rrdcached_socket", "service_order",
	"ssh_command", "ssh_options", "timeout_fetch_all_nodes",
	"timeout_fetch_one_node", "tls_ca_certificate", "tls_certificate",
	"tls_match", "tls_pem", "tls_private_key", "tls_verify_certificate",
	"tls_verify_depth", "unknown_limit", "update_rate",
	"use_default_name", "use_default_node", "use_node_name",
	"worker_start_delay",
};
#define PLUGIN_WORD_MAX	23	/* the longest of them */

static int
plugin_word_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* Whether munin would take a field of this name for one of its settings. */
static int
plugin_munin_reserved(const char *s, size_t len)
{
	/* The first byte first: a fetch asks this of every node. */
	if (len >= 6 && s[0] == 'g' && memcmp(s, "graph_", 6) == 0)
		return 1;
	return len <= PLUGIN_WORD_MAX && bsearch(s, plugin_munin_words,
	    sizeof plugin_munin_words / sizeof plugin_munin_words[0],
	    sizeof plugin_munin_words[0], plugin_word_cmp) != NULL;
}

/*
 * The name of a node whose name would be a setting's: the nickname gets a
 * '_' ahead, as one starting with a digit does ("_graph_title"), and no
 * setting's name starts so.
 */
static size_t __attribute__((noinline))
plugin_field_name_unreserved(const char *nick, size_t nicklen,
    const char *id, size_t idlen, char *out)
{
	char	 buf[TALLY_NICKNAME_MAX];

	if (nicklen > sizeof buf - 1)
		nicklen = sizeof buf - 1;
	buf[0] = '_';
	memcpy(buf + 1, nick, nicklen);
	return plugin_field_name(buf, nicklen + 1, id, idlen, out);
}

size_t
plugin_field_name(const char *nick, size_t nicklen, const char *id,
    size_t idlen, char *out)
{
	char	 buf[TALLY_NICKNAME_MAX + 1 + TALLY_NODE_ID_MAX + 1];
	size_t	 budget, len, n;

	if (nicklen > TALLY_NICKNAME_MAX)
		nicklen = TALLY_NICKNAME_MAX;
	if (idlen > TALLY_NODE_ID_MAX)
		idlen = TALLY_NODE_ID_MAX;
	/*
	 * Cut the nickname, not the id, when both don't fit: the id is what
	 * makes the name unique.  plugin_munin_field prefixes '_' to a name
	 * starting with a digit; leave room for it.
	 */
	budget = PLUGIN_NAME_MAX > idlen + 1 ? PLUGIN_NAME_MAX - idlen - 1 : 0;
	if (nicklen > 0 && nick[0] >= '0' && nick[0] <= '9' && budget > 0)
		budget--;
	if (nicklen > budget)
		nicklen = budget;
	memcpy(buf, nick, nicklen);
	buf[nicklen] = '_';
	memcpy(buf + nicklen + 1, id, idlen);
	n = nicklen + 1 + idlen;
	plugin_munin_field(buf, n, out);
	len = strlen(out);

	/*
	 * If the id came through intact, the name ends with "_<id>" and
	 * differs from every other node's.  Otherwise ("-" became "_", or
	 * the id was cut) two ids may have met: add a hash of the raw id.
	 */
	if (len <= idlen || out[len - idlen - 1] != '_' ||
	    memcmp(out + len - idlen, id, idlen) != 0) {
		if (len > PLUGIN_NAME_MAX - 9)
			len = PLUGIN_NAME_MAX - 9;
		plugin_hex_suffix(out + len, plugin_hash(id, idlen));
		len += 9;
	}
	/* Starting with '_', the name of a setting's becomes none. */
	if (plugin_munin_reserved(out, len))
		return plugin_field_name_unreserved(nick, nicklen, id, idlen,
		    out);
	return len;
}

void
plugin_names_init(struct plugin_names *pn)
{
	memset(pn, 0, sizeof *pn);
}

void
plugin_names_free(struct plugin_names *pn)
{
	free(pn->table);
	memset(pn, 0, sizeof *pn);
}

/* Empty the set for the next graph, keeping its table and its pages. */
void
plugin_names_clear(struct plugin_names *pn)
{
	if (pn->n == 0)
		return;
	memset(pn->table, 0, pn->tcap * sizeof *pn->table);
	pn->n = 0;
}

/*
 * A 64-bit hash of a name, eight bytes at a step (a multiply and a shift
 * each, as in MurmurHash's finalizer), never 0 (a free slot).  It lives
 * only within a run: a name's bytes, in the machine's order.
 */
#define PLUGIN_MIX	UINT64_C(0xff51afd7ed558ccd)

static uint64_t
plugin_hash64(const char *s, size_t len)
{
	uint64_t	 h = UINT64_C(0x9e3779b97f4a7c15) ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * PLUGIN_MIX;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * PLUGIN_MIX;
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h != 0 ? h : 1;
}

/* The slot of h: where it is (*found) or would go. */
static size_t
plugin_names_slot(const struct plugin_names *pn, uint64_t h, int *found)
{
	size_t	 mask = pn->tcap - 1, i;

	for (i = (size_t)(h ^ h >> 32) & mask;; i = (i + 1) & mask) {
		if (pn->table[i] == 0 || pn->table[i] == h) {
			*found = pn->table[i] == h;
			return i;
		}
	}
}

/*
 * Double the set; growth is geometric, so a run allocates O(log n) times.
 * The first table holds 12,288 names (128 KiB): a fleet of 10,000 then
 * needs no copy.  glibc's calloc maps a first table of that size afresh,
 * so a small fleet's first graph touches only the pages its names land
 * on (tally_all's later graphs clear the table, and touch it all).  Each
 * page a process touches first costs a fault, which on a shadow-paged
 * virtual machine weighs tens of microseconds: doubling from 4,096 slots
 * touched 120 pages for 10,000 names, this touches 32.
 */
static int
plugin_names_grow(struct plugin_names *pn)
{
	uint64_t	*old = pn->table;
	size_t		 otcap = pn->tcap, i;
	int		 found;

	pn->tcap = otcap ? otcap * 2 : PLUGIN_NAMES_SLOTS;
	if (pn->tcap > SIZE_MAX / sizeof *old ||
	    (pn->table = calloc(pn->tcap, sizeof *old)) == NULL) {
		pn->table = old;
		pn->tcap = otcap;
		return TALLY_ENOMEM;
	}
	for (i = 0; i < otcap; i++)
		if (old[i] != 0)
			pn->table[plugin_names_slot(pn, old[i], &found)] =
			    old[i];
	free(old);
	return 0;
}

int
plugin_names_add(struct plugin_names *pn, char *field)
{
	size_t		 base = strlen(field), slot, len;
	uint64_t	 h;
	unsigned	 k = 1;
	int		 found, rc;

	if (4 * (pn->n + 1) > 3 * pn->tcap && (rc = plugin_names_grow(pn)) !=
	    0)
		return rc;
	/*
	 * Nodes come in id order, so the first of a clash keeps the plain
	 * name and the suffixes are the same on every run.  A suffixed name
	 * may itself be taken (a node nicknamed "x_2"): keep counting.
	 */
	for (len = base;;) {
		h = plugin_hash64(field, len);
		slot = plugin_names_slot(pn, h, &found);
		if (!found)
			break;
		snprintf(field + base, PLUGIN_FIELD_LEN - base, "_%u", ++k);
		len = strlen(field);
	}
	pn->table[slot] = h;
	pn->n++;
	return 0;
}
