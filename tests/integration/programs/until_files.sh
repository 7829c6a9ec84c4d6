# "ready $WHO", then "after go $WHO" once a file named go exists in the working directory, then
# "bye $WHO" and exit 0 once a file named stop exists. The test creates the files; polling here
# is the program's own loop, not the test's synchronisation.
echo "ready $WHO"
while [ ! -e go ]; do sleep 0.05; done
echo "after go $WHO"
while [ ! -e stop ]; do sleep 0.05; done
echo "bye $WHO"
