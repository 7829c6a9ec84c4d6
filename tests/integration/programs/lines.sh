# Five numbered lines on stdout, then stays up.
for i in 1 2 3 4 5; do echo "line $i"; done
exec sleep 3600
