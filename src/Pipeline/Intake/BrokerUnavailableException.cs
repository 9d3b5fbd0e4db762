namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// The document row is committed but the broker did not take its <c>DocumentReceived</c> in time; recovery
/// announces it later, and ingesting the same file again returns the same document.
/// </summary>
public sealed class BrokerUnavailableException : Exception
{
    /// <summary>Creates the exception for a stored document.</summary>
    public BrokerUnavailableException(Guid documentId, Exception innerException)
        : base($"Document {documentId} is stored, but the message broker is unavailable; it will be processed once the broker is back.", innerException)
        => DocumentId = documentId;

    /// <summary>Creates the exception.</summary>
    public BrokerUnavailableException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public BrokerUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public BrokerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The stored document.</summary>
    public Guid DocumentId { get; }
}
