"""Real market data: the Bybit V5 client (``abmm.data.bybit``), loaders for downloadable
history files and recorded feeds (``abmm.data.loaders``) and the local Parquet store they
write to (``abmm.data.store``; paths and schemas in docs/data.md).

A low layer: it knows files, HTTP and pandas, nothing of the market, agents or analysis."""
