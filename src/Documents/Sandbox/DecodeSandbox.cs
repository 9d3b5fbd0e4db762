using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Documents.Processes;

namespace PaliGemma2.DocPipeline.Documents.Sandbox;

/// <summary>Limits of the decoder child process.</summary>
public sealed class SandboxOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Preparation:Sandbox";

    /// <summary>Wall-clock limit of one decoder run.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>CPU-time limit of one decoder run, in seconds.</summary>
    public int CpuSeconds { get; set; } = 120;

    /// <summary>
    /// Address-space limit of the decoder process. The .NET runtime itself needs about 1 GiB of address space
    /// (code, stacks, GC bookkeeping), so the managed heap gets this minus 1 GiB; below 1.5 GiB the runtime
    /// does not start.
    /// </summary>
    public long MemoryLimitBytes { get; set; } = 4L << 30;

    /// <summary>The <c>docpipe-decode.dll</c> to run; next to the host's assemblies when empty.</summary>
    public string? DecoderPath { get; set; }

    /// <summary>Decoder processes kept running, each on one file at a time; 0: one per CPU.</summary>
    public int Workers { get; set; }

    /// <summary>Files one decoder process handles before it is replaced (bounds what native codecs leak).</summary>
    public int FilesPerWorker { get; set; } = 200;
}

/// <summary>
/// Runs <c>docpipe-decode</c> (src/Sandbox), the only code that parses untrusted bytes (PdfPig,
/// ImageSharp decoders, GDCM), in child processes under <c>prlimit</c> and a wall timeout. The children
/// live on between files (start-up and JIT once, not per file) and handle one file at a time; a crash,
/// signal, timeout or memory limit ends that child, becomes a <see cref="DocumentRejectedException"/>
/// with a plain reason, and the next file gets a fresh child. The decoder's stderr is logged with the document id.
/// </summary>
public sealed class DecodeSandbox(SandboxOptions options, ILogger<DecodeSandbox> logger) : IDisposable
{
    private const string DecoderName = "docpipe-decode.dll";
    private readonly ConcurrentBag<DecodeWorker> _idle = [];
    private readonly SemaphoreSlim _slots = new(options.Workers > 0 ? options.Workers : Environment.ProcessorCount);
    private volatile bool _disposed;

    /// <summary>The options in force.</summary>
    public SandboxOptions Options { get; } = options;

    /// <summary>Ends the idle decoder processes (busy ones end with their file).</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var worker))
        {
            worker.Dispose();
        }
    }

    /// <summary>Reads a PDF's page count, producer, title and words with PdfPig.</summary>
    /// <exception cref="DocumentRejectedException">PdfPig refused the file or its process died.</exception>
    public Task<PdfInfo> ReadPdfTextAsync(string pdfPath, int maxPages, string scratch, Guid documentId, CancellationToken cancellationToken) =>
        RunAsync<PdfInfo>(SandboxProtocol.PdfText, "PDF text reader", pdfPath, scratch, [maxPages.ToString(CultureInfo.InvariantCulture)], documentId, cancellationToken);

    /// <summary>Decodes a PNG/JPEG/TIFF, downscales it and writes <c>page.png</c> into <paramref name="scratch"/>.</summary>
    /// <exception cref="DocumentRejectedException">The image was refused or its decoder died.</exception>
    public Task<SandboxImage> PrepareImageAsync(string imagePath, int longSide, ImageLimits limits, string scratch, Guid documentId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return RunAsync<SandboxImage>(SandboxProtocol.Image, "image decoder", imagePath, scratch,
            [longSide.ToString(CultureInfo.InvariantCulture), limits.MaxPixels.ToString(CultureInfo.InvariantCulture)], documentId, cancellationToken);
    }

    /// <summary>Reads a DICOM file with GDCM and writes each frame as a PNG into <paramref name="scratch"/>.</summary>
    /// <exception cref="DocumentRejectedException">The file was refused or GDCM died.</exception>
    public Task<SandboxDicom> DecodeDicomAsync(string dicomPath, int resolution, DicomLimits limits, string scratch, Guid documentId, CancellationToken cancellationToken) =>
        RunAsync<SandboxDicom>(SandboxProtocol.Dicom, "DICOM decoder", dicomPath, scratch,
            [resolution.ToString(CultureInfo.InvariantCulture), JsonSerializer.Serialize(limits, SandboxProtocol.Json)], documentId, cancellationToken);

    private async Task<T> RunAsync<T>(string command, string what, string input, string scratch, string[] extra, Guid documentId, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(scratch);
        var decoder = Options.DecoderPath is { Length: > 0 } configured ? configured : Path.Combine(AppContext.BaseDirectory, DecoderName);
        if (!File.Exists(decoder))
        {
            // A deployment fault, not a bad file: throw so the message is retried, not the document failed.
            throw new FileNotFoundException($"The decoder {decoder} is missing; hosts reference src/Sandbox so it is copied next to them.", decoder);
        }

        var limits = new ChildProcess.Limits(Options.Timeout, Options.MemoryLimitBytes, Options.CpuSeconds, new Dictionary<string, string>
        {
            // Without a hard limit the GC reserves far more address space than RLIMIT_AS allows and the runtime
            // cannot start; with one, a memory bomb ends as OutOfMemoryException inside the decoder.
            ["DOTNET_GCHeapHardLimit"] = $"0x{Math.Max(256L << 20, Options.MemoryLimitBytes - (1L << 30)):X}",
            ["DOTNET_gcServer"] = "0",
            // glibc reserves 64 MiB of address space per thread arena; under RLIMIT_AS that, not the file, would run out.
            ["MALLOC_ARENA_MAX"] = "2",
            ["DOTNET_TieredPGO"] = "0",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        });
        var outcome = await RunInWorkerAsync(decoder, limits, [command, input, scratch, .. extra], cancellationToken).ConfigureAwait(false);
        var stderr = outcome.StdErr;
        if (stderr.Length > 0)
        {
            // Native codecs and PdfPig write why they gave up; kept per document for whoever debugs the file.
            logger.LogWarning("Document {DocumentId}: {Decoder} said (exit {Exit}): {StdErr}", documentId, what, outcome.ExitCode, stderr);
        }

        var resultPath = Path.Combine(scratch, SandboxProtocol.ResultFile);
        if (outcome.TimedOut)
        {
            throw new DocumentRejectedException(Reasons.DecoderTimedOut,
                $"The {what} took longer than {Options.Timeout.TotalSeconds:0} s on this file and was stopped.");
        }

        switch (outcome.ExitCode)
        {
            case SandboxProtocol.ExitOk:
                await using (var result = File.OpenRead(resultPath))
                {
                    return await JsonSerializer.DeserializeAsync<T>(result, SandboxProtocol.Json, cancellationToken).ConfigureAwait(false)
                        ?? throw new InvalidOperationException($"The {what} wrote an empty result.");
                }

            case SandboxProtocol.ExitRejected:
                await using (var result = File.OpenRead(resultPath))
                {
                    var rejection = await JsonSerializer.DeserializeAsync<SandboxRejection>(result, SandboxProtocol.Json, cancellationToken).ConfigureAwait(false);
                    throw new DocumentRejectedException(rejection?.Code ?? Reasons.DecoderFailed, rejection?.Reason ?? $"The {what} refused this file.");
                }

            default:
                throw Failure(what, outcome.ExitCode, stderr);
        }
    }

    private async Task<ChildProcess.Outcome> RunInWorkerAsync(string decoder, ChildProcess.Limits limits, string[] args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        DecodeWorker? worker = null;
        try
        {
            while (_idle.TryTake(out var idle))
            {
                if (!idle.HasExited)
                {
                    worker = idle;
                    break;
                }

                idle.Dispose();
            }

            worker ??= DecodeWorker.Start(DotnetHost(), decoder, limits);
            var (outcome, reusable) = await worker.RunAsync(args, limits.Timeout, cancellationToken).ConfigureAwait(false);
            if (reusable && worker.Served < Options.FilesPerWorker && !_disposed)
            {
                _idle.Add(worker);
                worker = null;
            }

            return outcome;
        }
        finally
        {
            worker?.Dispose();
            _slots.Release();
        }
    }

    private DocumentRejectedException Failure(string what, int exitCode, string stderr)
    {
        if (Contains(stderr, "Failed to create CoreCLR") || Contains(stderr, "GC heap initialization failed"))
        {
            // The runtime did not start: a configuration fault (limit too low), not this file's doing; retried, not stored.
            throw new InvalidOperationException($"The {what} could not start under a {Options.MemoryLimitBytes >> 20} MiB address-space limit: {stderr}");
        }

        var limitMib = Options.MemoryLimitBytes >> 20;
        if (exitCode == SandboxProtocol.ExitOutOfMemory || Contains(stderr, "OutOfMemoryException") || Contains(stderr, "bad_alloc") || Contains(stderr, "Out of memory"))
        {
            return new DocumentRejectedException(Reasons.DecoderOutOfMemory, $"The {what} ran out of memory (limit {limitMib} MiB) on this file.");
        }

        if (exitCode > 128)
        {
            var signal = exitCode - 128;
            if (signal is 24 or 9)
            {
                // RLIMIT_CPU sends SIGXCPU, then SIGKILL; nothing else here kills the decoder.
                return new DocumentRejectedException(Reasons.DecoderTimedOut, $"The {what} used more than {Options.CpuSeconds} s of CPU on this file and was stopped.");
            }

            var why = Contains(stderr, "Stack overflow")
                ? " (stack overflow: the file's structure is nested too deeply or cyclic)"
                : "";
            return new DocumentRejectedException(Reasons.DecoderCrashed, $"The {what} crashed ({SignalName(signal)}) on this file{why}.");
        }

        return new DocumentRejectedException(Reasons.DecoderFailed, $"The {what} failed on this file (exit {exitCode}).");
    }

    private static bool Contains(string s, string what) => s.Contains(what, StringComparison.Ordinal);

    private static string SignalName(int signal) => signal switch
    {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        11 => "SIGSEGV",
        _ => $"signal {signal}",
    };

    // The decoder is a framework-dependent .dll: run it with the same dotnet host as this process.
    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath))
        {
            return hostPath;
        }

        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        return !string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")) ? Path.Combine(root, "dotnet") : "dotnet";
    }
}
