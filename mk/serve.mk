# user/serve/: the HTTP endpoint on libmicrohttpd (http.c: /metrics, /healthz, /readyz, whose
# pages user/sinks/metrics.c writes) and GET /evidence.tar.gz (evidence_http.c).
USER_SRCS += $(wildcard user/serve/*.c)
LDLIBS    += -lmicrohttpd
