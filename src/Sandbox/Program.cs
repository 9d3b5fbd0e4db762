using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Documents.Sandbox;

// docpipe-decode: the one place where untrusted file bytes are parsed. The host runs it under prlimit
// (DecodeSandbox), so an abort, a stack overflow or a memory bomb ends this process, not the host.
// `serve` keeps it running for many files, one at a time (SandboxProtocol); a fault ends the process and
// the host starts another. Exit codes and the result file are the protocol.
if (args is [SandboxProtocol.Serve, var cpu])
{
    return await Decoder.ServeAsync(int.Parse(cpu, CultureInfo.InvariantCulture)).ConfigureAwait(false);
}

if (args.Length < 3)
{
    await Console.Error.WriteLineAsync("usage: docpipe-decode serve <cpu-seconds> | pdf-text|image|dicom <input> <output-dir> [args]").ConfigureAwait(false);
    return SandboxProtocol.ExitUsage;
}

return await Decoder.RunAsync(args).ConfigureAwait(false);

internal static partial class Decoder
{
    private const int RlimitCpu = 0;

    // Requests on stdin, one JSON line each; "docpipe-done <id> <exit>" on stdout, and a marker on stderr so the
    // host knows it has all of this file's native messages. EOF on stdin (host gone) ends the process.
    public static async Task<int> ServeAsync(int cpuSeconds)
    {
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            var request = JsonSerializer.Deserialize<SandboxRequest>(line, SandboxProtocol.Json)
                ?? throw new InvalidDataException("empty request");
            ArmCpuLimit(cpuSeconds);
            var exit = await RunAsync([.. request.Args]).ConfigureAwait(false);
            await Console.Error.WriteLineAsync(SandboxProtocol.EndMarker + request.Id.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{SandboxProtocol.DonePrefix}{request.Id} {exit}")).ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
            if (exit is not (SandboxProtocol.ExitOk or SandboxProtocol.ExitRejected))
            {
                // Out of memory or worse: state is suspect, the host replaces this process.
                return exit;
            }

            // Off the host's clock: the next file starts with the heap this one left behind returned.
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return SandboxProtocol.ExitOk;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var (command, input, outputDirectory) = (args[0], args[1], args[2]);
        Directory.CreateDirectory(outputDirectory);
        var resultPath = Path.Combine(outputDirectory, SandboxProtocol.ResultFile);
        try
        {
            object result = command switch
            {
                SandboxProtocol.PdfText => PdfInspector.Inspect(input, new PdfRenderOptions { MaxPages = int.Parse(args[3], CultureInfo.InvariantCulture) }),
                SandboxProtocol.Image => PrepareImage(input, outputDirectory, args),
                SandboxProtocol.Dicom => DecodeDicom(input, outputDirectory, args),
                _ => throw new ArgumentException($"unknown command {command}"),
            };
            await File.WriteAllTextAsync(resultPath, JsonSerializer.Serialize(result, result.GetType(), SandboxProtocol.Json)).ConfigureAwait(false);
            return SandboxProtocol.ExitOk;
        }
        catch (DocumentRejectedException ex)
        {
            return await RejectAsync(resultPath, ex.Code, ex.Message, ex).ConfigureAwait(false);
        }
        catch (DicomRejectedException ex)
        {
            return await RejectAsync(resultPath, Reasons.FromDicom(ex.Kind), ex.Reason, ex).ConfigureAwait(false);
        }
        catch (OutOfMemoryException)
        {
            // Under the heap limit this is the memory bomb case; say so by exit code, no allocation needed.
            return SandboxProtocol.ExitOutOfMemory;
        }
    }

    private static async Task<int> RejectAsync(string resultPath, string code, string reason, Exception ex)
    {
        // The library's own words go to stderr (the host logs them with the document id), the plain reason to the file.
        await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
        var rejection = new SandboxRejection { Code = code, Reason = reason };
        await File.WriteAllTextAsync(resultPath, JsonSerializer.Serialize(rejection, SandboxProtocol.Json)).ConfigureAwait(false);
        return SandboxProtocol.ExitRejected;
    }

    private static SandboxImage PrepareImage(string input, string outputDirectory, string[] args)
    {
        var longSide = int.Parse(args[3], CultureInfo.InvariantCulture);
        var limits = new ImageLimits { MaxPixels = long.Parse(args[4], CultureInfo.InvariantCulture) };
        using var source = File.OpenRead(input);
        using var png = File.Create(Path.Combine(outputDirectory, "page.png"));
        var image = PageImages.Prepare(source, longSide, limits, png);
        return new SandboxImage { File = "page.png", Width = image.Width, Height = image.Height, IsBlank = image.IsBlank };
    }

    private static SandboxDicom DecodeDicom(string input, string outputDirectory, string[] args)
    {
        var resolution = int.Parse(args[3], CultureInfo.InvariantCulture);
        var limits = JsonSerializer.Deserialize<DicomLimits>(args[4], SandboxProtocol.Json) ?? DicomLimits.Default;
        var file = DicomReader.Read(input, limits);
        var frames = new List<SandboxImage>(file.FrameCount);
        for (var frame = 0; frame < file.FrameCount; frame++)
        {
            var name = $"f{frame:D5}.png";
            using var square = file.RenderLongSide(frame, resolution);
            using var png = File.Create(Path.Combine(outputDirectory, name));
            var image = PageImages.Encode(square, png);
            frames.Add(new SandboxImage { File = name, Width = image.Width, Height = image.Height, IsBlank = image.IsBlank });
        }

        return new SandboxDicom { Header = file.Header, Frames = frames };
    }

    // RLIMIT_CPU counts the whole process's life; each file gets its own budget on top of what the earlier ones
    // used (SIGXCPU when it runs out). The hard limit stays where the host's prlimit put it.
    private static void ArmCpuLimit(int cpuSeconds)
    {
        if (cpuSeconds <= 0 || GetRlimit(RlimitCpu, out var limit) != 0)
        {
            return;
        }

        var used = (ulong)Math.Ceiling(Environment.CpuUsage.TotalTime.TotalSeconds);
        limit.Current = Math.Min(limit.Maximum, used + (ulong)cpuSeconds);
        _ = SetRlimit(RlimitCpu, in limit);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRlimit(int resource, out Rlimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRlimit(int resource, in Rlimit limit);
}
