/*
 * mkvserve load client: N concurrent HTTP/1.1 GET streams over loopback, one epoll loop, one thread.
 * Compiled at run time by bench/load.mjs (cc -O2); pinned to its own core with taskset.
 *
 * Stream mode (default): opens N connections (paced: -r per second, at most -P awaiting their first
 * byte), sends "GET <path> HTTP/1.1", counts the bytes each connection receives and its time to first
 * byte (from connect() to the first response byte). When every connection has its first byte or failed
 * (or after -T s), it waits -w s of warm-up, prints "WINDOW_START", measures each connection's received
 * bitrate over -W s, prints "WINDOW_END", closes everything and prints one JSON line of statistics.
 * A connection "keeps up" when it is still open at the end of the window and received at least
 * -k (0.9) x -b bit/s during it.
 *
 * Cycles mode (-c K): K short connections, at most -C at a time: connect, GET, read -B bytes, close.
 * Reports successes, failures, time-outs (-t s per connection) and ttfb.
 *
 * Slow mode (-S BYTES_PER_S): ONE connection that reads at most that many bytes per second (a slice
 * every 100 ms), with its receive buffer set to -R bytes (default 16384, like a slow link where the data
 * waits on the sender's side), for -D s or until the server closes it. Prints "SLOW <s> <bytes>" every
 * second and a JSON line at the end (bytes read, when and how it was closed).
 *
 * Every phase is bounded in time; the whole run stops after -x s at the latest.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  int state; /* 0 unused, 1 connecting, 2 request sent, 3 receiving, 4 closed */
  int http_ok; /* -1 unknown, 0 not 200, 1 200 */
  int hdr_len;
  char hdr[16];
  double t_start, t_first, t_closed;
  int lport; /* local port (for matching with a server's logs) */
  uint64_t bytes, bytes_ws, bytes_we;
  int err; /* errno of the failure, or -1 for EOF */
} conn_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double cpu_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double pct(double *v, int n, double p) {
  if (n <= 0) return -1;
  int i = (int)(p / 100.0 * (n - 1) + 0.5);
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return v[i];
}

static const char *host = "127.0.0.1", *path = "/stream";
static int port = 0, nclients = 100, rate = 2000, maxpending = 512, cycles = 0, concurrency = 50, minbytes = 1;
static int slow_rate = 0, slow_rcvbuf = 16384;
static double slow_duration = 60;
static const char *ttfb_dump = NULL; /* -J FILE: one line per connection: "start_s ttfb_ms local_port" (ttfb -1: no byte) */
static double warmup = 5, window_s = 30, bitrate = 0, keepfrac = 0.9, connect_timeout = 30, hardmax = 0, cycle_tmo = 5;
static struct sockaddr_in addr;
static char req[512];
static int reqlen;
static int ep;
static char rbuf[1 << 18];

static int open_conn(conn_t *c, uint32_t idx) {
  memset(c, 0, sizeof *c);
  c->http_ok = -1;
  c->t_start = now();
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) { c->err = errno; c->state = 4; c->t_closed = c->t_start; return -1; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(c->fd, (struct sockaddr *)&addr, sizeof addr);
  if (r < 0 && errno != EINPROGRESS) { c->err = errno; close(c->fd); c->fd = -1; c->state = 4; c->t_closed = now(); return -1; }
  c->state = 1;
  struct sockaddr_in la;
  socklen_t ll = sizeof la;
  if (getsockname(c->fd, (struct sockaddr *)&la, &ll) == 0) c->lport = ntohs(la.sin_port);
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = idx};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static void close_conn(conn_t *c, int err) {
  if (c->state == 4) return;
  if (c->fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); }
  c->fd = -1;
  c->state = 4;
  c->err = err;
  c->t_closed = now();
}

/* Handles one readiness event. Returns 1 when the connection received its first byte during this call. */
static int on_event(conn_t *c, uint32_t events, uint32_t idx) {
  int first = 0;
  if (c->state == 1 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int e = 0;
    socklen_t l = sizeof e;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e) { close_conn(c, e); return 0; }
    ssize_t w = send(c->fd, req, reqlen, MSG_NOSIGNAL);
    if (w != reqlen) { close_conn(c, w < 0 ? errno : EMSGSIZE); return 0; }
    c->state = 2;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
  }
  if (c->state == 2 || c->state == 3) {
    for (int k = 0; k < 4; k++) { /* a few reads per event, then let the others run */
      ssize_t r = recv(c->fd, rbuf, sizeof rbuf, 0);
      if (r > 0) {
        if (c->state == 2) { c->state = 3; c->t_first = now(); first = 1; }
        if (c->hdr_len < 12) {
          int take = 12 - c->hdr_len < r ? 12 - c->hdr_len : (int)r;
          memcpy(c->hdr + c->hdr_len, rbuf, take);
          c->hdr_len += take;
          if (c->hdr_len >= 12) c->http_ok = (memcmp(c->hdr, "HTTP/1.", 7) == 0 && memcmp(c->hdr + 9, "200", 3) == 0);
        }
        c->bytes += (uint64_t)r;
        if ((size_t)r < sizeof rbuf) break;
      } else if (r == 0) { close_conn(c, -1); break; }
      else {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close_conn(c, errno);
        break;
      }
    }
  }
  return first;
}

static void usage(void) {
  fprintf(stderr, "usage: loadclient -p PORT [-H 127.0.0.1] [-u /stream] [-n N] [-w warmup_s] [-W window_s] [-b bitrate_bps]\n"
                  "                  [-k 0.9] [-r connects_per_s] [-P max_pending] [-T connect_timeout_s] [-x hard_max_s]\n"
                  "                  [-J ttfb_dump_file]\n"
                  "       loadclient -p PORT -c CYCLES [-C concurrency] [-B min_bytes] [-t per_conn_timeout_s]\n"
                  "       loadclient -p PORT -S bytes_per_s [-R rcvbuf] [-D duration_s]\n");
  exit(2);
}

static int run_stream(void);
static int run_cycles(void);
static int run_slow(void);

int main(int argc, char **argv) {
  int o;
  while ((o = getopt(argc, argv, "H:p:u:n:w:W:b:k:r:P:T:x:c:C:B:t:S:R:D:J:")) != -1) {
    switch (o) {
      case 'H': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': path = optarg; break;
      case 'n': nclients = atoi(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 'W': window_s = atof(optarg); break;
      case 'b': bitrate = atof(optarg); break;
      case 'k': keepfrac = atof(optarg); break;
      case 'r': rate = atoi(optarg); break;
      case 'P': maxpending = atoi(optarg); break;
      case 'T': connect_timeout = atof(optarg); break;
      case 'x': hardmax = atof(optarg); break;
      case 'c': cycles = atoi(optarg); break;
      case 'C': concurrency = atoi(optarg); break;
      case 'B': minbytes = atoi(optarg); break;
      case 't': cycle_tmo = atof(optarg); break;
      case 'S': slow_rate = atoi(optarg); break;
      case 'R': slow_rcvbuf = atoi(optarg); break;
      case 'D': slow_duration = atof(optarg); break;
      case 'J': ttfb_dump = optarg; break;
      default: usage();
    }
  }
  if (port <= 0 || nclients <= 0 || rate <= 0 || maxpending <= 0 || concurrency <= 0) usage();
  setvbuf(stdout, NULL, _IOLBF, 0);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host %s (IPv4 only)\n", host); return 2; }
  reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: mkvserve-loadclient\r\nAccept: */*\r\n\r\n", path, host, port);

  int need = (cycles ? concurrency : nclients) + 64;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t)need) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)need) {
      printf("{\"error\":\"RLIMIT_NOFILE %llu < %d needed (hard limit too low)\"}\n", (unsigned long long)rl.rlim_cur, need);
      return 1;
    }
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) { perror("epoll_create1"); return 1; }
  if (slow_rate > 0) return run_slow();
  return cycles ? run_cycles() : run_stream();
}

static int run_slow(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { perror("socket"); return 1; }
  if (slow_rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &slow_rcvbuf, sizeof slow_rcvbuf);
  double t0 = now();
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { printf("{\"error\":\"connect: %s\"}\n", strerror(errno)); return 1; }
  if (send(fd, req, reqlen, MSG_NOSIGNAL) != reqlen) { printf("{\"error\":\"send failed\"}\n"); return 1; }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  uint64_t total = 0;
  double closed_at = -1, next_print = 1;
  int err = 0;
  const char *how = "open";
  while (now() - t0 < slow_duration) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    long quota = slow_rate / 10;
    while (quota > 0) {
      ssize_t r = recv(fd, rbuf, quota < (long)sizeof rbuf ? (size_t)quota : sizeof rbuf, 0);
      if (r > 0) { total += (uint64_t)r; quota -= r; continue; }
      if (r == 0) { how = "fin"; closed_at = now() - t0; break; }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      err = errno; how = err == ECONNRESET ? "reset" : "error"; closed_at = now() - t0; break;
    }
    if (closed_at >= 0) break;
    double t = now() - t0;
    if (t >= next_print) { printf("SLOW %.1f %llu\n", t, (unsigned long long)total); next_print += 1; }
  }
  close(fd);
  printf("{\"mode\":\"slow\",\"rate\":%d,\"rcvbuf\":%d,\"bytes\":%llu,\"seconds\":%.3f,\"closed\":\"%s\",\"closedAtS\":%.3f,\"errno\":%d}\n",
         slow_rate, slow_rcvbuf, (unsigned long long)total, now() - t0, how, closed_at, err);
  return 0;
}

static int run_stream(void) {
  if (hardmax <= 0) hardmax = connect_timeout + warmup + window_s + 30;
  conn_t *cs = calloc(nclients, sizeof *cs);
  struct epoll_event *evs = malloc(sizeof *evs * 4096);
  if (!cs || !evs) { perror("calloc"); return 1; }
  double t0 = now(), t_phase = t0, t_ws = 0, t_we = 0, cpu_ws = 0, cpu_we = 0, t_connected = 0;
  int phase = 0; /* 0 connecting, 1 warm-up, 2 window */
  int opened = 0, pending = 0, got_first = 0, aborted = 0, loop_over20 = 0;
  double loop_max_ms = 0;
  for (;;) {
    double t = now();
    if (phase == 0) {
      long allowed = (long)((t - t0) * rate) + 1;
      while (opened < nclients && opened < allowed && pending < maxpending) {
        if (open_conn(&cs[opened], (uint32_t)opened) == 0) pending++;
        opened++;
      }
      if ((opened == nclients && pending == 0) || t - t0 > connect_timeout) {
        phase = 1;
        t_phase = t_connected = t;
        printf("CONNECTED %d %.3f\n", got_first, t - t0);
      }
    }
    if (phase == 1 && t - t_phase >= warmup) {
      for (int i = 0; i < opened; i++) cs[i].bytes_ws = cs[i].bytes;
      t_ws = now();
      cpu_ws = cpu_self();
      phase = 2;
      printf("WINDOW_START %.3f\n", t_ws - t0);
    }
    if (phase == 2 && t - t_ws >= window_s) {
      for (int i = 0; i < opened; i++) cs[i].bytes_we = cs[i].bytes;
      t_we = now();
      cpu_we = cpu_self();
      printf("WINDOW_END %.3f\n", t_we - t0);
      break;
    }
    if (t - t0 > hardmax) { aborted = 1; break; }
    int n = epoll_wait(ep, evs, 4096, 5);
    double tb = now();
    for (int k = 0; k < n; k++) {
      uint32_t idx = evs[k].data.u32;
      conn_t *c = &cs[idx];
      int was_pending = (c->state == 1 || c->state == 2);
      if (on_event(c, evs[k].events, idx)) got_first++;
      if (was_pending && !(c->state == 1 || c->state == 2)) pending--; /* got its first byte or failed */
    }
    /* The client's own stalls: a first byte is noticed only when the batch it is in gets handled. */
    double tl = (now() - tb) * 1000.0;
    if (tl > loop_max_ms) loop_max_ms = tl;
    if (tl > 20) loop_over20++;
  }
  /* Statistics */
  int status200 = 0, non200 = 0, failed_connect = 0, closed_early = 0, open_end = 0, keeping = 0, nr = 0, nt = 0;
  uint64_t total = 0, wbytes = 0;
  double *rates = malloc(sizeof(double) * (opened + 1)), *ttfb = malloc(sizeof(double) * (opened + 1));
  double win = t_we > t_ws ? t_we - t_ws : 0;
  for (int i = 0; i < opened; i++) {
    conn_t *c = &cs[i];
    total += c->bytes;
    if (c->t_first > 0) ttfb[nt++] = (c->t_first - c->t_start) * 1000.0;
    else failed_connect++;
    if (c->http_ok == 1) status200++;
    else if (c->http_ok == 0) non200++;
    int open_at_end = !(c->state == 4 && (t_we == 0 || c->t_closed < t_we));
    if (c->t_first > 0 && !open_at_end) closed_early++;
    if (win > 0 && c->t_first > 0) {
      double r = (double)(c->bytes_we - c->bytes_ws) * 8.0 / win;
      wbytes += c->bytes_we - c->bytes_ws;
      rates[nr++] = r;
      if (open_at_end) { open_end++; if (r >= keepfrac * bitrate) keeping++; }
    }
  }
  if (ttfb_dump) {
    FILE *f = fopen(ttfb_dump, "w");
    if (f) {
      struct timespec rt;
      clock_gettime(CLOCK_REALTIME, &rt);
      fprintf(f, "# t0 %.6f (CLOCK_MONOTONIC s) realtime %.6f (s, at the end); columns: start_s ttfb_ms local_port\n", t0,
              rt.tv_sec + rt.tv_nsec / 1e9 - (now() - t0));
      for (int i = 0; i < opened; i++)
        fprintf(f, "%.4f %.2f %d\n", cs[i].t_start - t0, cs[i].t_first > 0 ? (cs[i].t_first - cs[i].t_start) * 1000.0 : -1.0,
                cs[i].lport);
      fclose(f);
    }
  }
  qsort(rates, nr, sizeof(double), cmpd);
  qsort(ttfb, nt, sizeof(double), cmpd);
  printf("{\"mode\":\"stream\",\"clients\":%d,\"opened\":%d,\"connected\":%d,\"status200\":%d,\"non200\":%d,"
         "\"failedConnect\":%d,\"closedBeforeWindowEnd\":%d,\"openAtWindowEnd\":%d,\"keepingUp\":%d,"
         "\"keepThresholdBps\":%.0f,\"connectPhaseS\":%.3f,\"warmupS\":%.3f,\"windowS\":%.3f,\"aborted\":%s,"
         "\"rateKbps\":{\"min\":%.1f,\"p1\":%.1f,\"p10\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"max\":%.1f},"
         "\"ttfbMs\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
         "\"totalBytes\":%llu,\"windowBytes\":%llu,\"windowGbps\":%.4f,\"clientCpuPct\":%.1f,\"clientBatchMaxMs\":%.1f,\"clientBatchesOver20ms\":%d}\n",
         nclients, opened, got_first, status200, non200, failed_connect, closed_early, open_end, keeping,
         keepfrac * bitrate, t_connected - t0, t_ws > 0 ? t_ws - t_connected : 0, win, aborted ? "true" : "false",
         pct(rates, nr, 0) / 1e3, pct(rates, nr, 1) / 1e3, pct(rates, nr, 10) / 1e3, pct(rates, nr, 50) / 1e3,
         pct(rates, nr, 90) / 1e3, pct(rates, nr, 100) / 1e3, pct(ttfb, nt, 50), pct(ttfb, nt, 90), pct(ttfb, nt, 99),
         pct(ttfb, nt, 100), (unsigned long long)total, (unsigned long long)wbytes,
         win > 0 ? wbytes * 8.0 / win / 1e9 : 0, win > 0 ? (cpu_we - cpu_ws) / win * 100.0 : 0, loop_max_ms, loop_over20);
  for (int i = 0; i < opened; i++) close_conn(&cs[i], 0);
  return aborted ? 3 : 0;
}

static int run_cycles(void) {
  if (hardmax <= 0) hardmax = 600;
  conn_t *cs = calloc(concurrency, sizeof *cs);
  struct epoll_event *evs = malloc(sizeof *evs * 4096);
  double *ttfb = malloc(sizeof(double) * (cycles + 1));
  if (!cs || !evs || !ttfb) { perror("calloc"); return 1; }
  int started = 0, done = 0, ok = 0, failed = 0, timeouts = 0, non200 = 0, eof_early = 0, nt = 0, aborted = 0;
  double t0 = now(), last_scan = t0;
  for (int i = 0; i < concurrency; i++) cs[i].state = 0;
  while (done < cycles) {
    double t = now();
    if (t - t0 > hardmax) { aborted = 1; break; }
    for (int i = 0; i < concurrency && started < cycles; i++) {
      if (cs[i].state == 0) { started++; if (open_conn(&cs[i], (uint32_t)i) < 0) { failed++; done++; cs[i].state = 0; } }
    }
    int n = epoll_wait(ep, evs, 4096, 5);
    for (int k = 0; k < n; k++) {
      uint32_t idx = evs[k].data.u32;
      conn_t *c = &cs[idx];
      if (c->state == 0 || c->state == 4) continue;
      on_event(c, evs[k].events, idx);
      if (c->state == 3 && c->bytes >= (uint64_t)minbytes && c->hdr_len >= 12) {
        ttfb[nt++] = (c->t_first - c->t_start) * 1000.0;
        if (c->http_ok == 1) ok++; else non200++;
        close_conn(c, 0);
        done++;
        c->state = 0;
      } else if (c->state == 4) {
        if (c->t_first > 0) eof_early++; else failed++;
        done++;
        c->state = 0;
      }
    }
    if (t - last_scan > 0.1) {
      last_scan = t;
      for (int i = 0; i < concurrency; i++) {
        conn_t *c = &cs[i];
        if (c->state != 0 && c->state != 4 && t - c->t_start > cycle_tmo) { close_conn(c, ETIMEDOUT); timeouts++; done++; c->state = 0; }
      }
    }
  }
  double el = now() - t0;
  for (int i = 0; i < concurrency; i++) if (cs[i].state != 0) close_conn(&cs[i], 0);
  qsort(ttfb, nt, sizeof(double), cmpd);
  printf("{\"mode\":\"cycles\",\"cycles\":%d,\"done\":%d,\"ok\":%d,\"non200\":%d,\"failed\":%d,\"closedEarly\":%d,"
         "\"timeouts\":%d,\"seconds\":%.3f,\"cyclesPerSec\":%.1f,\"aborted\":%s,"
         "\"ttfbMs\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}}\n",
         cycles, done, ok, non200, failed, eof_early, timeouts, el, done / el, aborted ? "true" : "false",
         pct(ttfb, nt, 50), pct(ttfb, nt, 99), pct(ttfb, nt, 100));
  return aborted ? 3 : 0;
}
