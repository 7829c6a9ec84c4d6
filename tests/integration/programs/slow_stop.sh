#!/bin/sh
# Records "start <ns>" when it starts and, one second after SIGTERM, "stop <ns>" in
# $DIR/$HOSTNAME: a pod whose stop takes time, to see whether a rollout overlaps old and new.
echo "start $(date +%s%N)" >> "$DIR/$HOSTNAME"
trap 'sleep 1; echo "stop $(date +%s%N)" >> "$DIR/$HOSTNAME"; exit 0' TERM
echo running
while :; do sleep 0.05; done
