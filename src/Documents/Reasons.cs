using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents;

/// <summary>
/// The one table of reasons a document fails or is warned about: a stable code (stored in
/// <c>documents.reason_code</c>, so SQL can group by it) and its plain-words meaning. The stored
/// <c>error</c> is the specific sentence; library exception texts go to the log only.
/// </summary>
public static class Reasons
{
    /// <summary>Not a PDF, PNG, JPEG, TIFF or DICOM file.</summary>
    public const string UnsupportedType = "unsupported_type";
    /// <summary>The task does not take this kind of file.</summary>
    public const string WrongTask = "wrong_task";
    /// <summary>File, page count or pixel count over a configured limit.</summary>
    public const string TooLarge = "too_large";
    /// <summary>Empty or cut-off file.</summary>
    public const string Truncated = "truncated";
    /// <summary>Neither PdfPig nor the renderers can read the PDF's structure.</summary>
    public const string PdfUnreadable = "pdf_unreadable";
    /// <summary>The PDF declares no pages.</summary>
    public const string PdfNoPages = "pdf_no_pages";
    /// <summary>No renderer produced any page.</summary>
    public const string PdfNotRendered = "pdf_not_rendered";
    /// <summary>The renderers reported damage and drew only empty pages.</summary>
    public const string PdfDamagedBlank = "pdf_damaged_blank";
    /// <summary>The raster image cannot be decoded.</summary>
    public const string ImageUnreadable = "image_unreadable";
    /// <summary>DICOM without the Part 10 structure.</summary>
    public const string DicomNotDicom = "dicom_not_dicom";
    /// <summary>DICOM object without an image.</summary>
    public const string DicomNoPixelData = "dicom_no_pixel_data";
    /// <summary>DICOM header or pixel data corrupt or truncated.</summary>
    public const string DicomCorrupt = "dicom_corrupt";
    /// <summary>DICOM pixel layout this pipeline does not render.</summary>
    public const string DicomUnsupported = "dicom_unsupported";
    /// <summary>Task auto found no task for the DICOM object.</summary>
    public const string DicomNoTask = "dicom_no_task";
    /// <summary>The sandboxed decoder died on a signal (native abort, segfault, stack overflow).</summary>
    public const string DecoderCrashed = "decoder_crashed";
    /// <summary>The sandboxed decoder ran past its wall-clock or CPU limit.</summary>
    public const string DecoderTimedOut = "decoder_timed_out";
    /// <summary>The sandboxed decoder hit its memory limit.</summary>
    public const string DecoderOutOfMemory = "decoder_out_of_memory";
    /// <summary>The sandboxed decoder failed in another way (a bug of ours or the library's).</summary>
    public const string DecoderFailed = "decoder_failed";
    /// <summary>Warning: the PDF's text layer could not be read; pages go on without words.</summary>
    public const string TextLayerUnreadable = "text_layer_unreadable";
    /// <summary>Warning: a renderer exited with an error after drawing the page.</summary>
    public const string RendererWarning = "renderer_warning";
    /// <summary>Preparation threw past its retries (an infrastructure fault or a bug).</summary>
    public const string PreparationError = "preparation_error";

    /// <summary>The preparing worker stopped (its lease expired) on every attempt.</summary>
    public const string PreparationStalled = "preparation_stalled";

    /// <summary>Every code with its meaning in plain words.</summary>
    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [UnsupportedType] = "not a PDF, PNG, JPEG, TIFF or DICOM file",
        [WrongTask] = "the task does not take this kind of file",
        [TooLarge] = "the file is over a size, page or pixel limit",
        [Truncated] = "the file is empty or cut off",
        [PdfUnreadable] = "the PDF's structure cannot be read",
        [PdfNoPages] = "the PDF has no pages",
        [PdfNotRendered] = "no renderer could draw any page of the PDF",
        [PdfDamagedBlank] = "the PDF is damaged and no page has visible content",
        [ImageUnreadable] = "the image cannot be decoded",
        [DicomNotDicom] = "not a DICOM file",
        [DicomNoPixelData] = "the DICOM object holds no image",
        [DicomCorrupt] = "the DICOM file is corrupt or truncated",
        [DicomUnsupported] = "the DICOM image layout is not supported",
        [DicomNoTask] = "task auto found no task for this DICOM object",
        [DecoderCrashed] = "the decoder crashed on this file",
        [DecoderTimedOut] = "the decoder ran out of time on this file",
        [DecoderOutOfMemory] = "the decoder ran out of memory on this file",
        [DecoderFailed] = "the decoder failed on this file",
        [TextLayerUnreadable] = "the PDF's text layer cannot be read; pages have no words",
        [RendererWarning] = "a renderer reported an error but drew the page",
        [PreparationError] = "preparation failed after retries",
        [PreparationStalled] = "the preparing worker stopped on every attempt",
    };

    /// <summary>The code for a DICOM refusal.</summary>
    public static string FromDicom(DicomRejection kind) => kind switch
    {
        DicomRejection.NotDicom => DicomNotDicom,
        DicomRejection.NoPixelData => DicomNoPixelData,
        DicomRejection.TooLarge => TooLarge,
        DicomRejection.Unsupported => DicomUnsupported,
        _ => DicomCorrupt,
    };
}
