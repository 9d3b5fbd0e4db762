namespace PaliGemma2.DocPipeline.Documents;

/// <summary>
/// The input cannot be prepared (corrupt, truncated, too large, unsupported). The message is the
/// reason stored on the document, so it names the problem and never a patient identifier.
/// </summary>
public sealed class DocumentRejectedException : Exception
{
    /// <summary>Creates the exception with a stored reason.</summary>
    public DocumentRejectedException(string reason) : base(reason) { }

    /// <summary>Creates the exception with a stored reason and its cause.</summary>
    public DocumentRejectedException(string reason, Exception innerException) : base(reason, innerException) { }

    /// <summary>Required by the exception pattern.</summary>
    public DocumentRejectedException() { }
}
