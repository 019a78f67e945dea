"""The tickerwatch research crew rebuilt in CrewAI, timed against the scripted mock LLM.

Four agents (market researcher, technical analyst, sentiment analyst, report writer), one small
tool each except the writer, four sequential tasks with context chaining, the LLM pointed at the
mock server started by bench/run-crew-compare.sh. Runs the crew RUNS times in one process and
prints per-run wall time (mean, p50, p95) and the RSS growth from run 5 to the last run.

Usage: crewai_crew.py BASE_URL [--runs N] [--memory] [--symbol NVDA]
"""

import argparse
import json
import logging
import os
import hashlib
import math
import shutil
import statistics
import sys
import tempfile
import time

# Before crewai is imported: no telemetry, no tracing, no prompts for a trace viewer.
for key, value in {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}.items():
    os.environ.setdefault(key, value)

import crewai  # noqa: E402
from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402
from crewai.tools import tool  # noqa: E402
from pydantic import BaseModel  # noqa: E402


# CrewAI warns on every call that it estimates token counts; that is noise here.
logging.getLogger("crewai").setLevel(logging.ERROR)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@tool("get_quote")
def get_quote(symbol: str) -> str:
    """Latest quote (price, change, volume) for a ticker symbol."""
    return json.dumps({"symbol": symbol, "price": 123.45, "change_pct": 1.2, "volume": 41_000_000})


@tool("get_indicators")
def get_indicators(symbol: str) -> str:
    """Technical indicators (RSI 14, SMA 50/200, MACD) for a ticker symbol."""
    return json.dumps({"symbol": symbol, "rsi_14": 55.0, "sma_50": 118.2, "sma_200": 104.9, "macd": 0.8})


@tool("get_mentions")
def get_mentions(symbol: str) -> str:
    """Social media mentions and average sentiment for a ticker symbol over the last 24 hours."""
    return json.dumps({"symbol": symbol, "mentions_24h": 412, "avg_sentiment": 0.21, "bullish_share": 0.58})


def hash_embed(texts: list[str]) -> list[list[float]]:
    """A local 64-dimension hashed bag-of-words embedding, so memory needs no embedding service."""
    vectors = []
    for text in texts:
        vector = [0.0] * 64
        for word in text.lower().split():
            vector[hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % 64] += 1.0
        norm = sum(v * v for v in vector) ** 0.5 or 1.0
        vectors.append([v / norm for v in vector])
    return vectors


class ResearchNote(BaseModel):
    rating: str
    confidence: float
    horizon: str
    thesis: str
    risks: list[str]
    key_figures: dict[str, float]
    sources: list[str]


def build_crew(llm: LLM, symbol: str, memory) -> Crew:
    common = {"llm": llm, "allow_delegation": False, "verbose": False, "max_iter": 5}
    researcher = Agent(
        role="Market researcher",
        goal=f"Collect the current market data for {symbol}",
        backstory="You pull quotes and summarise price action.",
        tools=[get_quote],
        **common,
    )
    technical = Agent(
        role="Technical analyst",
        goal=f"Read the technical indicators of {symbol}",
        backstory="You interpret RSI, moving averages and MACD.",
        tools=[get_indicators],
        **common,
    )
    sentiment = Agent(
        role="Sentiment analyst",
        goal=f"Gauge the social sentiment around {symbol}",
        backstory="You follow retail investor chatter.",
        tools=[get_mentions],
        **common,
    )
    writer = Agent(
        role="Report writer",
        goal=f"Write a concise research note on {symbol}",
        backstory="You turn analyst findings into a rating with a thesis and risks.",
        tools=[],
        **common,
    )
    market_task = Task(
        description=f"Get the latest quote for {symbol} and summarise the price action.",
        expected_output="Two sentences on price and volume.",
        agent=researcher,
    )
    technical_task = Task(
        description=f"Get the technical indicators for {symbol} and say what they imply.",
        expected_output="Two sentences on momentum and trend.",
        agent=technical,
        context=[market_task],
    )
    sentiment_task = Task(
        description=f"Get the social mentions for {symbol} and judge the sentiment.",
        expected_output="Two sentences on sentiment.",
        agent=sentiment,
        context=[market_task],
    )
    note_task = Task(
        description=f"Write the research note for {symbol} from the findings of the other analysts.",
        expected_output="A research note: rating, confidence, horizon, thesis, risks, key figures, sources.",
        agent=writer,
        context=[market_task, technical_task, sentiment_task],
        output_pydantic=ResearchNote,
    )
    return Crew(
        agents=[researcher, technical, sentiment, writer],
        tasks=[market_task, technical_task, sentiment_task, note_task],
        process=Process.sequential,
        memory=memory if memory is not None else False,
        verbose=False,
    )


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url", help="mock server base URL including /v1")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--memory", action="store_true", help="Crew(memory=True)")
    parser.add_argument("--symbol", default="NVDA")
    args = parser.parse_args()

    llm = LLM(model="openai/gpt-4o-mini", base_url=args.base_url, api_key="mock", temperature=0)
    memory = None
    storage = None
    if args.memory:
        from crewai.memory.unified_memory import Memory

        # One store for all runs, as a service would keep one: LanceDB in a temporary folder, the
        # memory's own analysis calls on the same mock LLM, a local hashed embedding.
        storage = tempfile.mkdtemp(prefix="crewai-memory-")
        memory = Memory(llm=llm, embedder=hash_embed, storage=storage)
    times_ms: list[float] = []
    rss_at: dict[int, float] = {}
    last_output = None
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        # A new crew per run, as a service would build one per request.
        result = build_crew(llm, args.symbol, memory).kickoff()
        times_ms.append((time.perf_counter() - started) * 1000)
        rss_at[run] = rss_mb()
        last_output = result
    if storage is not None:
        shutil.rmtree(storage, ignore_errors=True)
    note = last_output.pydantic if last_output is not None else None
    if not isinstance(note, ResearchNote):
        print(f"crew did not produce a research note: {last_output!r}", file=sys.stderr)
        return 1

    ordered = sorted(times_ms)
    first = min(5, args.runs)
    label = f"CrewAI {crewai.__version__} (memory={'on' if args.memory else 'off'})"
    print()
    print(f"{label}: {args.runs} runs of 4 agents, 4 sequential tasks")
    print(f"  {'mean ms':>9} {'p50 ms':>9} {'p95 ms':>9} {'first ms':>9} {'RSS run ' + str(first):>12}"
          f" {'RSS run ' + str(args.runs):>12} {'growth':>9}")
    print(f"  {statistics.mean(times_ms):9.1f} {percentile(ordered, 50):9.1f} {percentile(ordered, 95):9.1f}"
          f" {times_ms[0]:9.1f} {rss_at[first]:10.1f}MB {rss_at[args.runs]:10.1f}MB"
          f" {rss_at[args.runs] - rss_at[first]:+7.1f}MB")
    print(f"  last note: rating={note.rating} confidence={note.confidence} horizon={note.horizon!r}")
    print(f"summary crewai_mean_ms={statistics.mean(times_ms):.3f} "
          f"crewai_rss_growth_mb={rss_at[args.runs] - rss_at[first]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
