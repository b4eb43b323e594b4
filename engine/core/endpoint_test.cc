#include "engine/core/endpoint.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

TEST(EndpointTest, ParsesAndPrints) {
  auto e = Endpoint::Parse("127.0.0.1:7000");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->address, 0x7f000001u);
  EXPECT_EQ(e->port, 7000);
  EXPECT_EQ(e->ToString(), "127.0.0.1:7000");
  EXPECT_TRUE(e->is_loopback());
  EXPECT_EQ(Endpoint::Parse("239.1.2.3", 9)->ToString(), "239.1.2.3:9");
}

TEST(EndpointTest, ClassifiesRanges) {
  EXPECT_TRUE(Endpoint::FromOctets(239, 0, 0, 1, 1).is_multicast());
  EXPECT_FALSE(Endpoint::FromOctets(198, 18, 0, 1, 1).is_multicast());
  EXPECT_TRUE(Endpoint::FromOctets(198, 18, 0, 1, 1).is_benchmark_net());
  EXPECT_TRUE(Endpoint::FromOctets(198, 19, 255, 1, 1).is_benchmark_net());
  EXPECT_FALSE(Endpoint::FromOctets(198, 20, 0, 1, 1).is_benchmark_net());
}

TEST(EndpointTest, RejectsMalformedTextWithAClearError) {
  for (const char* bad : {"", "1.2.3:80", "1.2.3.4.5:80", "256.0.0.1:80", "1.2.3.4:70000",
                          "1.2.3.4:", "1..3.4:80", "a.b.c.d:80", "1.2.3.4", "1.2.3.4.:80", ":80"}) {
    auto e = Endpoint::Parse(bad);
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(e.error().message.find("bad endpoint"), std::string::npos);
  }
}

}  // namespace
}  // namespace qsm
