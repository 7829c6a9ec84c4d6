#!/bin/sh
# A container whose main process and grandchild both ignore SIGTERM: only SIGKILL after the
# grace period stops them. The grandchild writes its pid to $PIDFILE for the test to watch.
trap '' TERM
sh -c 'trap "" TERM; echo $$ > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; while :; do sleep 1; done' &
echo started
while :; do sleep 1; done
