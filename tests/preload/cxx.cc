// cxx.cc — C++ through the preload: new/delete, std::string, containers,
// and std::thread workers whose objects are destroyed by other threads.
// Prints a checksum that must equal the one printed without the preload.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct Node { std::string name; std::vector<int> values; };

int main() {
  std::mutex mu;
  std::vector<std::unique_ptr<Node>> handoff;
  std::vector<std::thread> threads;
  uint64_t sum = 0;
  for (int t = 0; t < 6; t++) {
    threads.emplace_back([t, &mu, &handoff] {
      std::unordered_map<std::string, std::vector<int>> m;
      for (int i = 0; i < 20000; i++) {
        auto n = std::make_unique<Node>();
        n->name = "node-" + std::to_string(t) + "-" + std::to_string(i);
        n->values.assign(i % 97, i);
        m[n->name.substr(0, 8 + i % 5)].push_back(i);
        std::lock_guard<std::mutex> g(mu);
        handoff.push_back(std::move(n));   // destroyed later by another thread
      }
    });
  }
  for (auto &th : threads) th.join();
  threads.clear();
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([t, &mu, &handoff, &sum] {
      for (;;) {
        std::unique_ptr<Node> n;
        {
          std::lock_guard<std::mutex> g(mu);
          if (handoff.empty()) return;
          n = std::move(handoff.back());
          handoff.pop_back();
        }
        uint64_t h = n->name.size();
        for (int v : n->values) h += (uint64_t)v;
        std::lock_guard<std::mutex> g(mu);
        sum += h;
      }
    });
  }
  for (auto &th : threads) th.join();
  std::map<int, std::string> ordered;
  for (int i = 0; i < 50000; i++) ordered[i * 7919 % 50021] = std::string(i % 300, 'a' + i % 26);
  for (auto &kv : ordered) sum += kv.first ^ kv.second.size();
  auto *arr = new double[1 << 20];
  for (int i = 0; i < (1 << 20); i++) arr[i] = i * 0.5;
  for (int i = 0; i < (1 << 20); i += 1024) sum += (uint64_t)arr[i];
  delete[] arr;
  std::printf("cxx: checksum %llu\n", (unsigned long long)sum);
  return 0;
}
