"""Market microstructure signals from a book snapshot, the top-of-book stream and the trades.

Every signal comes twice, with the same numbers: a **vectorized** function over numpy arrays
(e.g. the columns of a run's log, ``from_run(run_dir)``) and a **streaming** class with
``update(...)`` (O(1) per event; the snapshot signals O(k) for k levels) and a ``value``
property, to use inside an agent or a live loop. Prices are integer ticks, sizes lots, times int
ns; an empty side is price 0 (``top/``) or ``None`` (``OrderBook.top()``).

Book snapshot (``abmm.signals.book``)
    ``imbalance`` / ``Imbalance``        (sum q^B - sum q^A) / (sum q^B + sum q^A), top k levels
    ``depth_ratio`` / ``DepthRatio``     sum q^B / sum q^A over the top k levels
    ``queue_pressure`` / ``QueuePressure``  (q^B_1 - q^A_1) / (q^B_1 + q^A_1) at the touch
    ``mid_price`` / ``MidPrice``          (bid + ask) / 2
    ``microprice`` / ``Microprice``       ask I + bid (1 - I), I = q^B / (q^B + q^A) (Stoikov 2018)
    ``weighted_mid`` / ``WeightedMid``    the same over k levels with the sides' VWAPs
    ``snapshot(book, k)``                 padded depth arrays of an ``OrderBook``

Spread (``abmm.signals.spread``)
    ``spread`` / ``Spread``               ask - bid
    ``spread_zscore`` / ``SpreadZScore``  rolling z-score over a fixed count window (ddof 0)
    ``rolling_zscore`` / ``RollingZScore``  the same for any series

Order flow and trades (``abmm.signals.flow``)
    ``ofi_events``, ``ofi`` / ``OFI``     order-flow imbalance, Cont, Kukanov & Stoikov (2014)
    ``ofi_buckets`` / ``BucketedOFI``     OFI per time bucket
    ``signed_volume``, ``cumulative_delta`` / ``CumulativeDelta``  buy minus sell volume
    ``delta_buckets`` / ``BucketedDelta``  signed volume per time bucket
    ``trade_rate`` / ``TradeRate``        trades per second over a rolling time window
    ``average_trade_size`` / ``AverageTradeSize``  mean trade size over that window
    ``trade_buckets`` / ``BucketedTrades``  count, volume, rate, average size per bucket

Volatility (``abmm.signals.volatility``)
    ``realized_volatility`` / ``RealizedVolatility``  sqrt(sum of squared log returns)
    ``realized_volatility_buckets`` / ``BucketedRealizedVolatility``  per time bucket
    ``garman_klass``, ``garman_klass_variance``  sigma^2 = 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2
    ``ohlc_bars`` / ``OHLCBars``, ``garman_klass_bars`` / ``GarmanKlass``  per time bar
    ``MidVolatility``                     EWMA of squared mid changes per second (the rules of
                                          market activity, market makers and policy features)

Indicators (``abmm.signals.indicators``)
    ``ema``, ``sma``, ``rsi``            moving averages and the relative strength index of a
                                          price history (chartists' rules and observations)

VPIN (``abmm.signals.vpin``)
    ``vpin`` / ``VPIN``, ``bvc_bars``     Easley, Lopez de Prado & O'Hara (2012): bulk volume
                                          classification per time bar, volume buckets

Run logs (``abmm.signals.run``)
    ``from_run(run_dir)`` -> ``RunData(top, trades)`` DataFrames read from ``top/`` and
    ``events/``.

Time buckets (``abmm.signals.buckets``): bucket b = [origin + b*bucket_ns, origin +
(b+1)*bucket_ns), reported contiguously (empty buckets included) as ``Buckets(start, value)``.
"""

from abmm.signals.book import (
    DepthRatio,
    Imbalance,
    Microprice,
    MidPrice,
    QueuePressure,
    WeightedMid,
    depth_ratio,
    imbalance,
    microprice,
    mid_price,
    queue_pressure,
    snapshot,
    weighted_mid,
)
from abmm.signals.buckets import Buckets, bucket_index
from abmm.signals.flow import (
    OFI,
    AverageTradeSize,
    BucketedDelta,
    BucketedOFI,
    BucketedTrades,
    CumulativeDelta,
    TradeBucket,
    TradeBucketStats,
    TradeRate,
    average_trade_size,
    cumulative_delta,
    delta_buckets,
    ofi,
    ofi_buckets,
    ofi_events,
    signed_volume,
    trade_buckets,
    trade_rate,
)
from abmm.signals.run import RunData, from_run
from abmm.signals.spread import (
    RollingZScore,
    Spread,
    SpreadZScore,
    rolling_zscore,
    spread,
    spread_zscore,
)
from abmm.signals.volatility import (
    OHLC,
    BucketedRealizedVolatility,
    GarmanKlass,
    MidVolatility,
    OHLCBars,
    RealizedVolatility,
    garman_klass,
    garman_klass_bars,
    garman_klass_variance,
    log_returns,
    ohlc_bars,
    realized_volatility,
    realized_volatility_buckets,
)
from abmm.signals.vpin import VPIN, BVCBars, VPINBucket, VPINResult, bvc_bars, vpin

__all__ = [
    # book
    "imbalance", "depth_ratio", "queue_pressure", "mid_price", "microprice", "weighted_mid",
    "snapshot", "Imbalance", "DepthRatio", "QueuePressure", "MidPrice", "Microprice",
    "WeightedMid",
    # spread
    "spread", "spread_zscore", "rolling_zscore", "Spread", "SpreadZScore", "RollingZScore",
    # flow
    "ofi_events", "ofi", "ofi_buckets", "OFI", "BucketedOFI", "signed_volume",
    "cumulative_delta", "delta_buckets", "CumulativeDelta", "BucketedDelta", "trade_rate",
    "average_trade_size", "trade_buckets", "TradeRate", "AverageTradeSize", "BucketedTrades",
    "TradeBucket", "TradeBucketStats",
    # volatility
    "log_returns", "realized_volatility", "realized_volatility_buckets", "RealizedVolatility",
    "BucketedRealizedVolatility", "garman_klass", "garman_klass_variance", "ohlc_bars",
    "garman_klass_bars", "OHLC", "OHLCBars", "GarmanKlass", "MidVolatility",
    # vpin
    "vpin", "bvc_bars", "VPIN", "BVCBars", "VPINBucket", "VPINResult",
    # runs and buckets
    "from_run", "RunData", "Buckets", "bucket_index",
]
