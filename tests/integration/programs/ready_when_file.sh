#!/bin/sh
# Runs until stopped; its readiness probe (exec: test -f $READY_FILE) is what the test flips.
echo "waiting for $READY_FILE"
while :; do sleep 1; done
