namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Why a DICOM file cannot become pages.</summary>
public enum DicomRejection
{
    /// <summary>Not a DICOM Part 10 file (no preamble and "DICM" prefix).</summary>
    NotDicom,

    /// <summary>A valid DICOM object without image pixel data (SR, RT plan, waveform, ...).</summary>
    NoPixelData,

    /// <summary>Truncated or corrupt file or pixel data.</summary>
    Corrupt,

    /// <summary>Rows × Columns × frames (or the file size) beyond <see cref="DicomLimits"/>.</summary>
    TooLarge,

    /// <summary>A pixel layout or photometric interpretation this pipeline does not render.</summary>
    Unsupported,
}

/// <summary>
/// A DICOM file refused with a reason fit to store on the document. Messages never contain patient
/// identifiers: only UIDs of classes and syntaxes, modality, sizes and byte counts.
/// </summary>
public sealed class DicomRejectedException : Exception
{
    /// <summary>Creates a rejection.</summary>
    public DicomRejectedException(DicomRejection kind, string reason)
        : base(reason)
    {
        Kind = kind;
        Reason = reason;
    }

    /// <summary>Creates a rejection caused by a lower-level error.</summary>
    public DicomRejectedException(DicomRejection kind, string reason, Exception innerException)
        : base(reason, innerException)
    {
        Kind = kind;
        Reason = reason;
    }

    /// <summary>Required by the exception design guidelines; prefer the typed constructors.</summary>
    public DicomRejectedException()
        : this(DicomRejection.Corrupt, "DICOM file rejected")
    {
    }

    /// <summary>Required by the exception design guidelines; prefer the typed constructors.</summary>
    public DicomRejectedException(string message)
        : this(DicomRejection.Corrupt, message)
    {
    }

    /// <summary>Required by the exception design guidelines; prefer the typed constructors.</summary>
    public DicomRejectedException(string message, Exception innerException)
        : this(DicomRejection.Corrupt, message, innerException)
    {
    }

    /// <summary>The category of the refusal.</summary>
    public DicomRejection Kind { get; }

    /// <summary>Human-readable reason, safe to store and log (no patient identifiers).</summary>
    public string Reason { get; }
}
