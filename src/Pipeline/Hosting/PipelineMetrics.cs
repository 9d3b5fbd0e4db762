using System.Diagnostics.Metrics;
using PaliGemma2.DocPipeline.ServiceDefaults;

namespace PaliGemma2.DocPipeline.Pipeline.Hosting;

/// <summary>
/// The pipeline's instruments (meter <c>PaliGemma2.DocPipeline</c>). Labels are low-cardinality names only
/// (task, status, stage, reason code): never a patient identifier, file name or document id.
/// </summary>
public sealed class PipelineMetrics
{
    private static readonly double[] LagBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] MsBuckets = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

    private readonly Counter<long> _pages;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _documents;
    private readonly Counter<long> _tokens;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _queueLag;
    private readonly Histogram<double> _encode;
    private readonly Histogram<double> _prefill;
    private readonly Histogram<double> _decode;

    /// <summary>Creates the instruments on the host's meter factory.</summary>
    /// <param name="meters">The host's meter factory.</param>
    public PipelineMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(ServiceDefaultsExtensions.TelemetryName);
        _documents = meter.CreateCounter<long>("docpipe.documents", "{document}", "Documents reaching a status (received, queued, failed, done), by status and task.");
        _pages = meter.CreateCounter<long>("docpipe.pages.processed", "{page}", "Pages through inference, by task and outcome (stored, failed).");
        _failures = meter.CreateCounter<long>("docpipe.failures", "{failure}", "Documents and page jobs failed, by stage and reason code.");
        _tokens = meter.CreateCounter<long>("docpipe.inference.tokens", "{token}", "Tokens generated, by task (rate() gives tokens/s).");
        _batchSize = meter.CreateHistogram("docpipe.inference.batch.size", "{page}", "Pages decoded together in one batch, by task.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64] });
        _queueLag = meter.CreateHistogram("docpipe.inference.queue.lag", "s", "Time from an InferenceRequested being sent to the start of the batch that takes it, by task.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
        _encode = meter.CreateHistogram("docpipe.inference.encode.duration", "ms", "Vision encoder time per batch, by task.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = MsBuckets });
        _prefill = meter.CreateHistogram("docpipe.inference.prefill.duration", "ms", "Prefill time per batch, by task.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = MsBuckets });
        _decode = meter.CreateHistogram("docpipe.inference.decode.duration", "ms", "Decode time (all steps) per batch, by task.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = MsBuckets });
    }

    /// <summary>A document reached <paramref name="status"/>.</summary>
    public void Document(string status, string task, long count = 1) =>
        _documents.Add(count, new("status", status), new("task", task));

    /// <summary>Pages finished inference.</summary>
    public void Pages(string task, string outcome, long count) =>
        _pages.Add(count, new("task", task), new("outcome", outcome));

    /// <summary>A document or job failed.</summary>
    public void Failure(string stage, string reasonCode, long count = 1)
    {
        if (count > 0)
        {
            _failures.Add(count, new("stage", stage), new("reason", reasonCode));
        }
    }

    /// <summary>A batch starts: its size and how long each of its messages waited.</summary>
    public void BatchStarted(string task, int size, IEnumerable<TimeSpan> lags)
    {
        ArgumentNullException.ThrowIfNull(lags);
        var tag = new KeyValuePair<string, object?>("task", task);
        _batchSize.Record(size, tag);
        foreach (var lag in lags)
        {
            _queueLag.Record(Math.Max(0, lag.TotalSeconds), tag);
        }
    }

    /// <summary>A model run finished: its stage timings and the tokens it generated.</summary>
    public void Generation(string task, TimeSpan encode, TimeSpan prefill, TimeSpan decode, long tokens)
    {
        var tag = new KeyValuePair<string, object?>("task", task);
        _encode.Record(encode.TotalMilliseconds, tag);
        _prefill.Record(prefill.TotalMilliseconds, tag);
        _decode.Record(decode.TotalMilliseconds, tag);
        _tokens.Add(tokens, tag);
    }
}
