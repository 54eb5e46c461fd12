/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One load generator run: open the sockets, send the mix at the target rate (or flat out)
 * until the count or the duration is reached, match the responses, wait out the timeout for
 * the last ones, and hand back the counters and the latency histogram.
 */
#ifndef LG_LGRUN_H
#define LG_LGRUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "histogram.h"
#include "sipgen.h"

#define LG_BATCH_MAX 1024

struct lg_opts {
	struct sockaddr_storage target;
	struct sockaddr_storage bind; /* port 0; family of the target */
	double rate;		      /* messages per second, 0 = flat out */
	uint64_t count;		      /* 0 = no limit */
	double duration_s;	      /* > 0: every run is bounded in time */
	struct lg_mix mix;
	struct lg_via_mix via; /* Via forms */
	unsigned timeout_ms;
	unsigned batch;	  /* 1..LG_BATCH_MAX */
	unsigned sockets; /* 1..LG_MAX_SOCKETS */
};

struct lg_result {
	uint64_t sent;
	uint64_t received; /* final responses matched within the timeout */
	uint64_t late;	   /* matched too late, duplicates */
	uint64_t unknown;  /* not a response to this run, unparseable, truncated */
	uint64_t non2xx;   /* of received, final responses other than 2xx */
	uint64_t provisional;
	uint64_t evicted; /* window slots reused while still waiting */
	uint64_t send_errors;
	uint64_t rx_drops; /* responses dropped at our own sockets' full receive buffers */
	double send_s;	   /* from the first send to the end of the sending phase */
	struct lg_hist hist;
};

/**
 * Run the load. @p stop is raised by a signal handler: the first time it ends the sending phase
 * (the run still waits for responses), a value of 2 or more ends the run at once. Returns 0, or
 * -errno with a message in @p err for socket errors.
 */
int lg_run(const struct lg_opts *o, volatile sig_atomic_t *stop, struct lg_result *res, char *err,
	   size_t errlen);

#endif
