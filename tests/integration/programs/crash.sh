#!/bin/sh
# Records when each run starts (nanoseconds) and fails at once: a crash loop to time.
date +%s%N >> "$STARTS"
echo "run $(wc -l < "$STARTS") failing"
exit 3
