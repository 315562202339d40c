#include "podiam/k8s/watch_decoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace podiam::k8s {
namespace {

std::string Stream(int events) {
  std::string out;
  for (int i = 0; i < events; ++i) {
    Json e = {{"type", i % 5 == 4 ? "BOOKMARK" : (i % 3 == 0 ? "ADDED" : "MODIFIED")},
              {"object",
               {{"kind", "Pod"},
                // Multi-byte UTF-8 so that some splits land inside a code point.
                {"metadata",
                 {{"name", "pod-" + std::to_string(i)},
                  {"resourceVersion", std::to_string(1000 + i)},
                  {"annotations", {{"note", "héllo wörld ✓ " + std::string(i % 7, 'x')}}}}}}}};
    out += e.dump();
    out += '\n';
  }
  return out;
}

std::vector<std::string> Names(const std::vector<WatchEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(std::string(WatchEventTypeName(e.type)) + " " +
                  StringAt(e.object["metadata"], "name") + " " +
                  e.object["metadata"]["annotations"]["note"].get<std::string>());
  }
  return out;
}

std::vector<WatchEvent> DecodeInPieces(const std::string& stream,
                                       const std::vector<std::size_t>& cuts) {
  WatchDecoder decoder;
  std::vector<WatchEvent> events;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    auto ok = decoder.Feed(std::string_view(stream).substr(pos, cut - pos), [&](WatchEvent&& e) {
      events.push_back(std::move(e));
      return true;
    });
    EXPECT_TRUE(ok && *ok);
    pos = cut;
  }
  auto ok = decoder.Feed(std::string_view(stream).substr(pos), [&](WatchEvent&& e) {
    events.push_back(std::move(e));
    return true;
  });
  EXPECT_TRUE(ok && *ok);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
  return events;
}

TEST(WatchDecoderTest, WholeStreamInOneChunk) {
  auto events = DecodeInPieces(Stream(10), {});
  ASSERT_EQ(events.size(), 10U);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[1].type, WatchEventType::kModified);
  EXPECT_EQ(events[4].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[9].object["metadata"]["resourceVersion"], "1009");
}

TEST(WatchDecoderTest, RandomChunkBoundariesGiveTheSameEvents) {
  const std::string stream = Stream(40);
  const auto expected = Names(DecodeInPieces(stream, {}));
  std::mt19937 rng(42);  // fixed seed: failures reproduce
  for (int round = 0; round < 300; ++round) {
    std::uniform_int_distribution<std::size_t> pick(1, stream.size() - 1);
    std::vector<std::size_t> cuts(round % 50 + 1);
    for (auto& c : cuts) {
      c = pick(rng);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    ASSERT_EQ(Names(DecodeInPieces(stream, cuts)), expected) << "round " << round;
  }
}

TEST(WatchDecoderTest, ByteByByte) {
  const std::string stream = Stream(5);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < stream.size(); ++i) {
    cuts.push_back(i);
  }
  EXPECT_EQ(Names(DecodeInPieces(stream, cuts)), Names(DecodeInPieces(stream, {})));
}

TEST(WatchDecoderTest, CrLfAndBlankLinesAreTolerated) {
  WatchDecoder decoder;
  int n = 0;
  auto ok = decoder.Feed("\n\r\n{\"type\":\"ADDED\",\"object\":{}}\r\n\n  \n", [&](WatchEvent&&) {
    ++n;
    return true;
  });
  ASSERT_TRUE(ok);
  EXPECT_EQ(n, 1);
}

TEST(WatchDecoderTest, HoldsAnUnfinishedEvent) {
  WatchDecoder decoder;
  int n = 0;
  auto count = [&](WatchEvent&&) {
    ++n;
    return true;
  };
  ASSERT_TRUE(decoder.Feed("{\"type\":\"ADDED\",", count));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(decoder.pending_bytes(), 16U);
  ASSERT_TRUE(decoder.Feed("\"object\":{}}\n{\"ty", count));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(decoder.pending_bytes(), 4U);
}

TEST(WatchDecoderTest, HandlerCanStop) {
  WatchDecoder decoder;
  int n = 0;
  auto more = decoder.Feed(Stream(3), [&](WatchEvent&&) { return ++n < 2; });
  ASSERT_TRUE(more);
  EXPECT_FALSE(*more);
  EXPECT_EQ(n, 2);
}

TEST(WatchDecoderTest, MalformedEventsAreErrors) {
  auto never = [](WatchEvent&&) { return true; };
  for (const char* bad :
       {"not json\n", "[1,2]\n", "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"EXPLODED\",\"object\":{}}\n", "{\"type\":\"ADDED\",\"object\":\"x\"}\n"}) {
    WatchDecoder decoder;
    auto r = decoder.Feed(bad, never);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
  }
}

TEST(WatchDecoderTest, OversizedEventIsRefused) {
  WatchDecoder decoder(64);
  auto never = [](WatchEvent&&) { return true; };
  ASSERT_TRUE(decoder.Feed(std::string(40, ' '), never));
  auto r = decoder.Feed(std::string(40, ' '), never);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(WatchDecoderTest, ErrorEventsAreDecodedAsSuch) {
  auto e = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, WatchEventType::kError);
  EXPECT_TRUE(IsGone(StatusObjectError(e->object)));
}

}  // namespace
}  // namespace podiam::k8s
