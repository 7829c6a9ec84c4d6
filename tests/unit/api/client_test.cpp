// What the CLI makes of an API answer that is not a success: the message and code every command
// shows, from a body that is the server's and so not trusted to be a well-formed Status.

#include "runtime/api/client.h"

#include <gtest/gtest.h>

namespace ticketctl::api {
namespace {

TEST(StatusError, TakesTheStatusMessageAndACodeFromTheStatusAndReason) {
  const Error conflict = status_error(
      409, R"({"kind":"Status","reason":"Conflict","message":"the object has been modified"})");
  EXPECT_EQ(conflict.code, ErrorCode::Conflict);
  EXPECT_EQ(conflict.message, "the object has been modified");
  EXPECT_EQ(status_error(409, R"({"reason":"AlreadyExists","message":"exists"})").code,
            ErrorCode::AlreadyExists);
  EXPECT_EQ(status_error(404, R"({"message":"not found"})").code, ErrorCode::NotFound);
  EXPECT_EQ(status_error(422, R"({"message":"invalid"})").code, ErrorCode::Invalid);
  EXPECT_EQ(status_error(400, R"({"message":"bad"})").code, ErrorCode::Invalid);
  EXPECT_EQ(status_error(500, R"({"message":"boom"})").code, ErrorCode::Internal);
}

TEST(StatusError, ABodyThatIsNotAStatusIsQuotedNotTrusted) {
  EXPECT_EQ(status_error(502, "Bad Gateway").message, "the server answered 502 Bad Gateway");
  // Fields of the wrong type: no exception, the body as sent.
  const Error odd = status_error(409, R"({"message":5,"reason":["AlreadyExists"]})");
  EXPECT_EQ(odd.code, ErrorCode::Conflict);
  EXPECT_EQ(odd.message, R"(the server answered 409 {"message":5,"reason":["AlreadyExists"]})");
  EXPECT_EQ(status_error(500, "[1,2]").message, "the server answered 500 [1,2]");
  // A 2xx that is not JSON is not an object either.
  EXPECT_EQ(status_error(200, "<html>").code, ErrorCode::Internal);
}

}  // namespace
}  // namespace ticketctl::api
