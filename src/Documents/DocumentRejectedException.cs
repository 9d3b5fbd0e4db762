namespace PaliGemma2.DocPipeline.Documents;

/// <summary>
/// The input cannot be prepared (corrupt, truncated, too large, unsupported). The message is the
/// reason stored on the document, so it names the problem and never a patient identifier;
/// <see cref="Code"/> is its entry in <see cref="Reasons"/>.
/// </summary>
public sealed class DocumentRejectedException : Exception
{
    /// <summary>Creates the exception with a reason code and the stored reason.</summary>
    public DocumentRejectedException(string code, string reason) : base(reason) => Code = code;

    /// <summary>Creates the exception with a reason code, the stored reason and its cause.</summary>
    public DocumentRejectedException(string code, string reason, Exception innerException) : base(reason, innerException) => Code = code;

    /// <summary>Required by the exception pattern.</summary>
    public DocumentRejectedException(string reason) : this(Reasons.DecoderFailed, reason) { }

    /// <summary>Required by the exception pattern.</summary>
    public DocumentRejectedException() : this(Reasons.DecoderFailed, "The file cannot be prepared.") { }

    /// <summary>The reason code (see <see cref="Reasons.All"/>).</summary>
    public string Code { get; }
}
