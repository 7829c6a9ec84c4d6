#pragma once
// The {{name}} service's routes; main.cpp listens, test/app_test.cpp tests them on a free port.

#include <httplib.h>

void add_routes(httplib::Server& server);
