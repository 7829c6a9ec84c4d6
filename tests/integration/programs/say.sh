# One line naming the container ($WHO); container "b" says it on stderr. Then stays up.
if [ "$WHO" = b ]; then echo "from b" >&2; else echo "from $WHO"; fi
exec sleep 3600
