using System.Text.Json;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Documents.Sandbox;

// docpipe-decode: the one place where untrusted file bytes are parsed. The host runs it under
// prlimit and a wall timeout (DecodeSandbox), so an abort, a stack overflow or a memory bomb ends
// this process, not the host. Exit codes and the result file are the protocol (SandboxProtocol).
if (args.Length < 3)
{
    await Console.Error.WriteLineAsync("usage: docpipe-decode pdf-text|image|dicom <input> <output-dir> [args]").ConfigureAwait(false);
    return SandboxProtocol.ExitUsage;
}

var (command, input, outputDirectory) = (args[0], args[1], args[2]);
Directory.CreateDirectory(outputDirectory);
var resultPath = Path.Combine(outputDirectory, SandboxProtocol.ResultFile);
try
{
    object result = command switch
    {
        SandboxProtocol.PdfText => PdfInspector.Inspect(input, new PdfRenderOptions { MaxPages = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) }),
        SandboxProtocol.Image => PrepareImage(input, outputDirectory, args),
        SandboxProtocol.Dicom => DecodeDicom(input, outputDirectory, args),
        _ => throw new ArgumentException($"unknown command {command}"),
    };
    await File.WriteAllTextAsync(resultPath, JsonSerializer.Serialize(result, result.GetType(), SandboxProtocol.Json)).ConfigureAwait(false);
    return SandboxProtocol.ExitOk;
}
catch (DocumentRejectedException ex)
{
    return await RejectAsync(ex.Code, ex.Message, ex).ConfigureAwait(false);
}
catch (DicomRejectedException ex)
{
    return await RejectAsync(Reasons.FromDicom(ex.Kind), ex.Reason, ex).ConfigureAwait(false);
}
catch (OutOfMemoryException)
{
    // Under the address-space limit this is the memory bomb case; say so by exit code, no allocation needed.
    return SandboxProtocol.ExitOutOfMemory;
}

async Task<int> RejectAsync(string code, string reason, Exception ex)
{
    // The library's own words go to stderr (the host logs them with the document id), the plain reason to the file.
    await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
    var rejection = new SandboxRejection { Code = code, Reason = reason };
    await File.WriteAllTextAsync(resultPath, JsonSerializer.Serialize(rejection, SandboxProtocol.Json)).ConfigureAwait(false);
    return SandboxProtocol.ExitRejected;
}

static SandboxImage PrepareImage(string input, string outputDirectory, string[] args)
{
    var longSide = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    var limits = new ImageLimits { MaxPixels = long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) };
    using var source = File.OpenRead(input);
    using var png = File.Create(Path.Combine(outputDirectory, "page.png"));
    var image = PageImages.Prepare(source, longSide, limits, png);
    return new SandboxImage { File = "page.png", Width = image.Width, Height = image.Height, IsBlank = image.IsBlank };
}

static SandboxDicom DecodeDicom(string input, string outputDirectory, string[] args)
{
    var resolution = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
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
