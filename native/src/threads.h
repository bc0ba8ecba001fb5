// A small persistent thread pool: parallel_for splits [0, n) into contiguous chunks, one per worker.
#pragma once
#include <functional>

void threads_init(int n);  // 0 = hardware concurrency
int threads_count();
// fn(begin, end, thread_index); returns when every chunk is done. Calls from inside a worker run serially.
// chunks > 0 asks for at least that many chunks (at most n): a long pass in small chunks loses less when a worker
// holding one is descheduled (see threads.cpp)
void parallel_for(int n, const std::function<void(int, int, int)>& fn, int chunks = 0);
