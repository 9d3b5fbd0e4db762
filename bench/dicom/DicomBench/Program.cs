using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Sandbox;
using PaliGemma2.DocPipeline.Documents.Tests.Dicom;

// Benchmark: decode + window + resize-to-896 (DicomReader.Read + DicomFile.RenderLongSide) of a synthetic
// 2,500 × 3,000 16-bit MONOCHROME1 radiograph encoded as lossless JPEG 2000 by gdcmconv, against
// `gdcmconv --raw` (decode only, plus process start and file write) on the same file in the same run.
var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 7;
const int Rows = 3000;
const int Columns = 2500;
const int Size = 896;

var folder = Path.Combine(Path.GetTempPath(), "docpipe-dicom-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
Directory.CreateDirectory(folder);
try
{
    var raw = Path.Combine(folder, "radiograph-raw.dcm");
    var j2k = Path.Combine(folder, "radiograph-j2k.dcm");
    var pixels = MinimalDicomWriter.SyntheticRadiograph(Rows, Columns, 16);
    MinimalDicomWriter.Write(raw, new MinimalDicomWriter.Spec(Rows, Columns, 16, 16, "MONOCHROME1"), MemoryMarshal.AsBytes(pixels.AsSpan()));
    var encode = Stopwatch.StartNew();
    Run("gdcmconv", "--j2k", raw, j2k);
    encode.Stop();

    // Warm-up: JIT, GDCM's native initialisation, OS file cache.
    using (DicomReader.Read(j2k).RenderLongSide(0, Size))
    {
    }

    Run("gdcmconv", "--raw", j2k, Path.Combine(folder, "warm.dcm"));
    // Long-lived decoder processes (what hosts use since the pool) and one fresh process per file (before it).
    using var sandbox = new DecodeSandbox(new SandboxOptions { Workers = 1 }, NullLogger<DecodeSandbox>.Instance);
    using var perFile = new DecodeSandbox(new SandboxOptions { Workers = 1, FilesPerWorker = 1 }, NullLogger<DecodeSandbox>.Instance);
    await sandbox.DecodeDicomAsync(j2k, Size, DicomLimits.Default, Path.Combine(folder, "warm-sandbox"), Guid.Empty, CancellationToken.None);
    await perFile.DecodeDicomAsync(j2k, Size, DicomLimits.Default, Path.Combine(folder, "warm-per-file"), Guid.Empty, CancellationToken.None);
    var inProcessPng = new List<double>();
    var sandboxed = new List<double>();
    var sandboxedPerFile = new List<double>();

    var ours = new List<double>();
    var decodeOnly = new List<double>();
    var renderOnly = new List<double>();
    var gdcmconv = new List<double>();
    for (var i = 0; i < iterations; i++)
    {
        // Alternate the two so that drift (thermal, other load) hits both alike.
        var watch = Stopwatch.StartNew();
        var file = DicomReader.Read(j2k);
        var decoded = watch.Elapsed.TotalMilliseconds;
        using (var square = file.RenderLongSide(0, Size))
        {
            watch.Stop();
        }

        ours.Add(watch.Elapsed.TotalMilliseconds);
        decodeOnly.Add(decoded);
        renderOnly.Add(watch.Elapsed.TotalMilliseconds - decoded);

        var output = Path.Combine(folder, "raw-" + i.ToString(CultureInfo.InvariantCulture) + ".dcm");
        watch.Restart();
        Run("gdcmconv", "--raw", j2k, output);
        watch.Stop();
        gdcmconv.Add(watch.Elapsed.TotalMilliseconds);
        File.Delete(output);

        // Preparation before issue 11 (in process: decode, render, PNG) vs now (the same work in docpipe-decode).
        watch.Restart();
        using (var square = DicomReader.Read(j2k).RenderLongSide(0, Size))
        using (var png = new MemoryStream())
        {
            PageImages.Encode(square, png);
        }

        inProcessPng.Add(watch.Elapsed.TotalMilliseconds);
        var scratch = Path.Combine(folder, "sandbox-" + i.ToString(CultureInfo.InvariantCulture));
        watch.Restart();
        await sandbox.DecodeDicomAsync(j2k, Size, DicomLimits.Default, scratch, Guid.Empty, CancellationToken.None);
        sandboxed.Add(watch.Elapsed.TotalMilliseconds);
        Directory.Delete(scratch, recursive: true);

        watch.Restart();
        await perFile.DecodeDicomAsync(j2k, Size, DicomLimits.Default, scratch, Guid.Empty, CancellationToken.None);
        sandboxedPerFile.Add(watch.Elapsed.TotalMilliseconds);
        Directory.Delete(scratch, recursive: true);
    }

    var oursMedian = Median(ours);
    var gdcmMedian = Median(gdcmconv);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        # DICOM decode benchmark
        input: synthetic {Columns}x{Rows} 16-bit MONOCHROME1, JPEG 2000 lossless (gdcmconv --j2k), {new FileInfo(j2k).Length / 1024.0 / 1024.0:F1} MiB (raw {new FileInfo(raw).Length / 1024.0 / 1024.0:F1} MiB); encode took {encode.Elapsed.TotalMilliseconds:F0} ms
        machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}, .NET {Environment.Version}
        iterations: {iterations} (after one warm-up)

        | step | median ms |
        |---|---|
        | ours: DicomReader.Read (GDCM decode) | {Median(decodeOnly):F0} |
        | ours: window + MONOCHROME1 + resize to {Size}² + RGB | {Median(renderOnly):F0} |
        | ours: decode + window + resize (total) | {oursMedian:F0} |
        | gdcmconv --raw (decode + write, incl. process start) | {gdcmMedian:F0} |
        | ratio ours / gdcmconv | {oursMedian / gdcmMedian:F2} |

        Sandbox cost (issue 11): the preparation step per DICOM, in process vs in docpipe-decode (prlimit, PNG file).

        | path | median ms | ratio to in process |
        |---|---|---|
        | in process: Read + RenderLongSide + PNG encode | {Median(inProcessPng):F0} | 1.00 |
        | sandboxed, long-lived decoder process (DecodeSandbox default) | {Median(sandboxed):F0} | {Median(sandboxed) / Median(inProcessPng):F2} |
        | sandboxed, one fresh process per file (FilesPerWorker = 1, as before the pool) | {Median(sandboxedPerFile):F0} | {Median(sandboxedPerFile) / Median(inProcessPng):F2} |
        """));
}
finally
{
    Directory.Delete(folder, recursive: true);
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

static void Run(string tool, params string[] arguments)
{
    var start = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }

    using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + tool);
    var stderr = process.StandardError.ReadToEndAsync();
    _ = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"{tool} exited {process.ExitCode}: {stderr.Result}");
    }
}
