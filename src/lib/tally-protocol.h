/*
 * tally-protocol.h: the wire protocol between providers and the gatherer.
 * PROTOCOL.md is the prose; this header is the contract.
 *
 * A provider dials the gatherer and speaks first.  Every frame is a
 * big-endian 32-bit length, then that many bytes: a type byte and the
 * payload.  Integers are big-endian; a double travels as the 64 bits of
 * its IEEE 754 representation; a name is one length byte and its bytes
 * (no NUL).  A receiver checks every length before it reads.
 *
 *   frame:
 *   +----------------+--------+---------------------------------+
 *   | length (u32)   | type   | payload (length - 1 bytes)      |
 *   +----------------+--------+---------------------------------+
 *     1 <= length <= WIRE_FRAME_MAX
 *
 * Any frame that is malformed, unknown or out of order is answered by an
 * ERROR frame, and the connection is closed.
 */
#ifndef TALLY_PROTOCOL_H
#define TALLY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * 2: a TLS provider presents its own key as a client certificate, and
 * WELCOME returns the node's stored counters.  A gatherer refuses any
 * other version's HELLO with ERROR version, naming both.
 */
#define TALLY_PROTOCOL_VERSION	2

#define WIRE_LENGTH		4		/* the length field */
#define WIRE_FRAME_MAX		(8U << 20)	/* type + payload, bytes */
#define WIRE_SECRET_MIN		16
#define WIRE_SECRET_MAX		64
#define WIRE_ERRMSG_MAX		256

enum wire_type {
	/*
	 * HELLO, provider -> gatherer, the first frame, exactly once.
	 *   +---------+--------+--------+------+---------+------+----------+
	 *   | version | seclen | secret | nlen | node id | klen | nickname |
	 *   |  u16    |  u8    |        |  u8  |         |  u8  |          |
	 *   +---------+--------+--------+------+---------+------+----------+
	 */
	WIRE_HELLO = 1,
	/*
	 * WELCOME, gatherer -> provider, the handshake's success, with the
	 * counters the statsfile holds for the node (ncounters may be 0), so
	 * that a restarted provider resumes them.
	 *   +---------+-------------+-----------+----------------------+
	 *   | version | interval_ms | ncounters | ncounters x counter  |
	 *   |  u16    |  u32        |  u32      |                      |
	 *   +---------+-------------+-----------+----------------------+
	 *   counter: | nlen u8 | name | value i64 |
	 */
	WIRE_WELCOME = 2,
	/*
	 * POLL, gatherer -> provider: send a snapshot now.
	 *   +-------+
	 *   | seq   |
	 *   | u32   |
	 *   +-------+
	 */
	WIRE_POLL = 3,
	/*
	 * SNAPSHOT, provider -> gatherer, the answer to POLL seq.
	 *   +-----+------+-----------+--------------------------+
	 *   | seq | time | ncounters | ncounters x counter      |
	 *   | u32 | i64  | u32       |                          |
	 *   +-----+------+-----------+--------------------------+
	 *   | nstats | nstats x stat                            |
	 *   | u32    |                                          |
	 *   +--------+------------------------------------------+
	 *   counter: | nlen u8 | name | value i64        |
	 *   stat:    | nlen u8 | name | value f64 (bits) |
	 */
	WIRE_SNAPSHOT = 4,
	/*
	 * ERROR, either way; the sender then closes.
	 *   +------+--------+---------+
	 *   | code | msglen | message |
	 *   | u16  | u16    |         |
	 *   +------+--------+---------+
	 */
	WIRE_ERROR = 5
};

enum wire_error {
	WIRE_E_MALFORMED = 1,	/* a frame that does not parse */
	WIRE_E_VERSION = 2,	/* protocol version not spoken */
	WIRE_E_AUTH = 3,	/* wrong secret */
	WIRE_E_NAME = 4,	/* invalid node id, nickname or stat name */
	WIRE_E_UNEXPECTED = 5,	/* a valid frame at the wrong time */
	WIRE_E_TOO_BIG = 6,	/* length over WIRE_FRAME_MAX */
	WIRE_E_REPLACED = 7,	/* a newer connection has this node id */
	WIRE_E_SHUTDOWN = 8,	/* the gatherer is stopping */
	WIRE_E_TIMEOUT = 9,	/* handshake, poll or idle timeout */
	WIRE_E_BUSY = 10,	/* too many connections */
	WIRE_E_KEY = 11,	/* the node id is bound to another key */
	WIRE_E_LIMIT = 12,	/* a limit of the gatherer's (its message says) */
	WIRE_E_LOCKED = 13	/* another live process writes the node id */
};

#endif /* TALLY_PROTOCOL_H */
