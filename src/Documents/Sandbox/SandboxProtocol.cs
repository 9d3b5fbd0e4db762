using System.Text.Json;
using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Sandbox;

/// <summary>What <c>docpipe-decode</c> and <see cref="DecodeSandbox"/> agree on: commands, exit codes, result file.</summary>
public static class SandboxProtocol
{
    /// <summary>PdfPig page count, producer, title and words → <see cref="Pdf.PdfInfo"/>.</summary>
    public const string PdfText = "pdf-text";
    /// <summary>PNG/JPEG/TIFF decode, downscale, PNG encode → <see cref="SandboxImage"/>.</summary>
    public const string Image = "image";
    /// <summary>GDCM header + pixels, each frame rendered to a PNG → <see cref="SandboxDicom"/>.</summary>
    public const string Dicom = "dicom";
    /// <summary>Long-lived mode: one <see cref="SandboxRequest"/> per stdin line, one done line per request on stdout.</summary>
    public const string Serve = "serve";
    /// <summary>Start of the stdout line that ends a request: <c>docpipe-done &lt;id&gt; &lt;exit code&gt;</c>.</summary>
    public const string DonePrefix = "docpipe-done ";
    /// <summary>Start of the stderr line written after a request: everything before it belongs to that file.</summary>
    public const string EndMarker = "docpipe-end ";
    /// <summary>JSON result written into the output folder.</summary>
    public const string ResultFile = "result.json";
    /// <summary>Done; the result file holds the result.</summary>
    public const int ExitOk = 0;
    /// <summary>Bad arguments.</summary>
    public const int ExitUsage = 64;
    /// <summary>The file was refused; the result file holds a <see cref="SandboxRejection"/>.</summary>
    public const int ExitRejected = 65;
    /// <summary>The managed heap hit its limit.</summary>
    public const int ExitOutOfMemory = 66;

    /// <summary>Serializer settings of both sides.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}

/// <summary>One file for a serving decoder: the arguments of the one-shot command line.</summary>
public sealed record SandboxRequest
{
    /// <summary>Echoed in the done line.</summary>
    public long Id { get; init; }
    /// <summary>Command, input, output folder, command arguments.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];
}

/// <summary>A refusal with its reason code and stored text.</summary>
public sealed record SandboxRejection
{
    /// <summary>Code from <see cref="Reasons"/>.</summary>
    public string Code { get; init; } = Reasons.DecoderFailed;
    /// <summary>Reason fit to store on the document.</summary>
    public string Reason { get; init; } = "";
}

/// <summary>An image written by the sandbox.</summary>
public sealed record SandboxImage
{
    /// <summary>File name inside the output folder.</summary>
    public string File { get; init; } = "";
    /// <summary>Width in pixels.</summary>
    public int Width { get; init; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; init; }
    /// <summary>Every pixel has the same colour.</summary>
    public bool IsBlank { get; init; }
}

/// <summary>A decoded DICOM file: header and one rendered image per frame.</summary>
public sealed record SandboxDicom
{
    /// <summary>The header GDCM read.</summary>
    public DicomHeader Header { get; init; } = new();
    /// <summary>Frames in order.</summary>
    public IReadOnlyList<SandboxImage> Frames { get; init; } = [];
}
