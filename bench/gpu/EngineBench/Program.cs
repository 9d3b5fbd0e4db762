// GPU benchmark of the PaliGemma 2 engine (bench/gpu/README.md). Prints one JSON object per line on stdout:
// a "loaded" line, then one "batch" line per batch size; log messages go to stderr.
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Inference;

const string Usage = """
    usage: EngineBench <checkpoint-dir> [--batches 1,4,16] [--max-new-tokens 512] [--prompt TEXT]
                       [--warmup-tokens 4] [--repeats 1] [--cpu] [--require-cuda] [--device N]
      Loads the checkpoint once, then for each batch size runs a short warm-up batch and the measured
      batch (GenerateAsync, greedy, every request capped at --max-new-tokens) on synthetic A4 pages.
    """;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

var checkpoint = args[0];
int[] batches = [1, 4, 16];
var maxNewTokens = 512;
var warmupTokens = 4;
var repeats = 1;
var prompt = (string?)null;
var preferCuda = true;
var requireCuda = false;
var device = 0;
for (var i = 1; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--batches":
            batches = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
            break;
        case "--max-new-tokens":
            maxNewTokens = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--warmup-tokens":
            warmupTokens = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--repeats":
            repeats = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--prompt":
            prompt = Next();
            break;
        case "--cpu":
            preferCuda = false;
            break;
        case "--require-cuda":
            requireCuda = true;
            break;
        case "--device":
            device = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}");
            return 2;
    }
}

if (batches.Length == 0 || batches.Any(b => b <= 0) || maxNewTokens <= 0 || repeats <= 0)
{
    Console.Error.WriteLine("batch sizes, --max-new-tokens and --repeats must be positive");
    return 2;
}

using var loggerFactory = new StderrLoggerFactory();
var logger = loggerFactory.CreateLogger("EngineBench");
using var memory = new GpuMemorySampler(device);
var loadClock = Stopwatch.StartNew();
PaliGemmaModel loaded;
try
{
    loaded = PaliGemmaModel.Load(checkpoint, loggerFactory.CreateLogger("Inference"), new PaliGemmaLoadOptions
    {
        PreferCuda = preferCuda,
        RequireCuda = requireCuda,
        CudaDeviceId = device,
        MaxBatchSize = batches.Max(),
    });
}
catch (InvalidOperationException ex) when (requireCuda)
{
    // Usually a missing libcudart.so.13 or libcudnn.so.9 on LD_LIBRARY_PATH.
    Console.Error.WriteLine($"--require-cuda: {ex.Message}");
    return 3;
}

using var model = loaded;
var loadSeconds = loadClock.Elapsed.TotalSeconds;
prompt ??= model.Info.PromptPrefix;

Emit(w =>
{
    w.WriteString("event", "loaded");
    w.WriteString("checkpoint", model.Info.Name);
    w.WriteString("version", model.Info.Version);
    w.WriteNumber("resolution", model.Info.Resolution);
    w.WriteNumber("layers", model.Info.NumLayers);
    w.WriteString("provider", model.ExecutionProvider);
    w.WriteBoolean("batching", model.SupportsBatching);
    w.WriteString("gpu", GpuMemorySampler.GpuName(device));
    w.WriteNumber("load_s", Math.Round(loadSeconds, 2));
    w.WriteString("prompt_prefix", prompt);
    w.WriteNumber("max_new_tokens", maxNewTokens);
    WriteNullable(w, "gpu_mem_after_load_mib", memory.Current());
    w.WriteString("gpu_mem_source", memory.Source);
});

if (requireCuda && model.ExecutionProvider != "CUDA")
{
    Console.Error.WriteLine($"--require-cuda: the engine runs on {model.ExecutionProvider} (see the warning above for why CUDA did not load)");
    return 3;
}

var pages = Enumerable.Range(0, batches.Max()).Select(SyntheticPage).ToArray();
var failures = 0;
foreach (var batch in batches)
{
    var requests = pages.Take(batch).Select(p => new GenerationRequest(p, 1240, 1754, prompt, maxNewTokens)).ToArray();
    try
    {
        // Warm-up at this batch size: allocator growth and per-shape kernel selection stay out of the numbers.
        var warmup = pages.Take(batch).Select(p => new GenerationRequest(p, 1240, 1754, prompt, warmupTokens)).ToArray();
        await model.GenerateAsync(warmup).ConfigureAwait(false);
        for (var r = 0; r < repeats; r++)
        {
            memory.ResetPeak();
            var clock = Stopwatch.StartNew();
            var results = await model.GenerateAsync(requests).ConfigureAwait(false);
            var wall = clock.Elapsed;
            Emit(w => WriteBatch(w, batch, r, results, wall, maxNewTokens, model.ExecutionProvider, memory));
        }
    }
    catch (Exception ex) when (ex is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidOperationException or OutOfMemoryException or IndexOutOfRangeException or ArgumentException)
    {
        failures++;
        logger.LogError(ex, "batch {Batch} failed", batch);
        Emit(w =>
        {
            w.WriteString("event", "batch");
            w.WriteNumber("batch", batch);
            w.WriteString("error", ex.Message.Split('\n')[0]);
            w.WriteString("provider", model.ExecutionProvider);
            WriteNullable(w, "peak_gpu_mem_mib", memory.Peak);
        });
    }
}

return failures == 0 ? 0 : 1;

static void WriteBatch(Utf8JsonWriter w, int batch, int repeat, IReadOnlyList<GenerationResult> results, TimeSpan wall, int maxNewTokens, string provider, GpuMemorySampler memory)
{
    var t = results[0].Timings; // one batch: the timings are shared by its sequences
    var steps = t.DecodeSteps;
    var decodeSeconds = steps.Sum(s => s.TotalSeconds);
    var meanStep = steps.Count > 0 ? decodeSeconds / steps.Count : 0;

    // The first token of each sequence comes out of the prefill; the rest out of decode steps.
    var generated = results.Sum(r => r.TokenIds.Count);
    var decoded = results.Sum(r => Math.Max(0, r.TokenIds.Count - 1));
    var eos = results.Count(r => r.StopReason == StopReason.EndOfSequence);
    var fixedSeconds = (t.Preprocess + t.Encode + t.Prefill).TotalSeconds;

    // Pages/hour for exactly maxNewTokens per page: measured when every sequence ran to the cap,
    // otherwise extrapolated from the mean decode step (random weights can emit <eos> early).
    var secondsAtCap = fixedSeconds + (Math.Max(0, maxNewTokens - 1) * meanStep);
    w.WriteString("event", "batch");
    w.WriteNumber("batch", batch);
    w.WriteNumber("repeat", repeat);
    w.WriteNumber("max_new_tokens", maxNewTokens);
    w.WriteNumber("preprocess_ms", Ms(t.Preprocess.TotalSeconds));
    w.WriteNumber("image_encode_ms", Ms(t.Encode.TotalSeconds));
    w.WriteNumber("prefill_ms", Ms(t.Prefill.TotalSeconds));
    w.WriteNumber("decode_steps", steps.Count);
    w.WriteNumber("decode_step_ms", Ms(meanStep));
    w.WriteNumber("decode_tokens_per_s", decodeSeconds > 0 ? Math.Round(decoded / decodeSeconds, 1) : 0);
    w.WriteNumber("generated_tokens", generated);
    w.WriteNumber("eos_stops", eos);
    w.WriteNumber("total_ms", Ms(t.Total.TotalSeconds));
    w.WriteNumber("wall_ms", Ms(wall.TotalSeconds));
    w.WriteNumber("ort_run_ms", Ms(t.OrtRunTotal.TotalSeconds));
    w.WriteNumber("pages_per_hour", Math.Round(batch * 3600 / secondsAtCap, 1));
    w.WriteBoolean("pages_per_hour_extrapolated", eos > 0 || generated < batch * maxNewTokens);
    w.WriteNumber("pages_per_hour_measured", Math.Round(batch * 3600 / wall.TotalSeconds, 1));
    w.WriteString("provider", provider);
    WriteNullable(w, "peak_gpu_mem_mib", memory.Peak);
    w.WriteString("gpu_mem_source", memory.Source);
}

static double Ms(double seconds) => Math.Round(seconds * 1000, 2);

static void WriteNullable(Utf8JsonWriter w, string name, long? value)
{
    if (value is { } v)
    {
        w.WriteNumber(name, v);
    }
    else
    {
        w.WriteNull(name);
    }
}

static void Emit(Action<Utf8JsonWriter> write)
{
    using var stream = new MemoryStream();
    using (var w = new Utf8JsonWriter(stream))
    {
        w.WriteStartObject();
        write(w);
        w.WriteEndObject();
    }

    Console.Out.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    Console.Out.Flush();
}

// A4 at 150 dpi (1240 x 1754), white with dark text-like bars and ruled table lines; varies per index.
static byte[] SyntheticPage(int index)
{
    const int W = 1240, H = 1754;
    var rgb = new byte[W * H * 3];
    rgb.AsSpan().Fill(255);
    var random = new Random(1234 + index);
    for (var line = 0; line < 60; line++)
    {
        var y0 = 80 + (line * 27);
        var x = 90;
        while (x < W - 120)
        {
            var word = random.Next(20, 110);
            for (var y = y0; y < y0 + 12; y++)
            {
                rgb.AsSpan(((y * W) + x) * 3, Math.Min(word, W - 90 - x) * 3).Fill((byte)random.Next(0, 60));
            }

            x += word + random.Next(8, 20);
        }

        if (line % 6 == 0)
        {
            rgb.AsSpan((((y0 - 6) * W) + 80) * 3, (W - 160) * 3).Fill(0);
        }
    }

    return rgb;
}

/// <summary>
/// Peak GPU memory from nvidia-smi, polled every 100 ms: this process's own use when nvidia-smi can see its pid,
/// otherwise the device's used memory minus what was used before the model loaded. Null when nvidia-smi is absent.
/// </summary>
internal sealed class GpuMemorySampler : IDisposable
{
    private readonly int _device;
    private readonly long? _baseline;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task? _loop;
    private long _peak = -1;

    public GpuMemorySampler(int device)
    {
        _device = device;
        _baseline = DeviceUsed(device);
        if (_baseline is null)
        {
            Source = "unavailable";
            return;
        }

        Source = "device-delta";
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                if (Current() is { } now)
                {
                    InterlockedMax(now);
                }

                try
                {
                    await Task.Delay(100, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    /// <summary>"process", "device-delta" or "unavailable".</summary>
    public string Source { get; private set; }

    /// <summary>Highest sample since the last <see cref="ResetPeak"/>, in MiB.</summary>
    public long? Peak
    {
        get
        {
            if (Current() is { } now)
            {
                InterlockedMax(now);
            }

            var p = Interlocked.Read(ref _peak);
            return p >= 0 ? p : null;
        }
    }

    public static string? GpuName(int device) => Query($"--query-gpu=name --format=csv,noheader -i {device}")?.Trim();

    public long? Current()
    {
        if (_baseline is null)
        {
            return null;
        }

        var apps = Query("--query-compute-apps=pid,used_memory --format=csv,noheader,nounits");
        if (apps is not null)
        {
            foreach (var line in apps.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(',');
                if (parts.Length == 2
                    && int.TryParse(parts[0].Trim(), CultureInfo.InvariantCulture, out var pid) && pid == Environment.ProcessId
                    && long.TryParse(parts[1].Trim(), CultureInfo.InvariantCulture, out var mib))
                {
                    Source = "process";
                    return mib;
                }
            }
        }

        return DeviceUsed(_device) is { } used ? Math.Max(0, used - _baseline.Value) : null;
    }

    public void ResetPeak() => Interlocked.Exchange(ref _peak, -1);

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
            // The sampler is best effort.
        }

        _stop.Dispose();
    }

    private void InterlockedMax(long value)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _peak);
            if (value <= seen)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _peak, value, seen) != seen);
    }

    private static long? DeviceUsed(int device) =>
        long.TryParse(Query($"--query-gpu=memory.used --format=csv,noheader,nounits -i {device}")?.Trim(), CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string? Query(string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (Win32Exception)
        {
            return null; // no nvidia-smi on this machine
        }
    }
}

/// <summary>Minimal stderr logger (Information and above); the engine logs its provider choice and CUDA fallback here.</summary>
internal sealed class StderrLoggerFactory : ILoggerFactory
{
    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => new StderrLogger(categoryName);

    public void Dispose()
    {
    }

    private sealed class StderrLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " | " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
