using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// On endpoint <c>submit-document</c>, before anything is deserialized: a message that does not follow the
/// schema faults with a <see cref="InvalidSubmitDocumentException"/> naming every violation, so it lands in
/// <c>submit-document_error</c> with that text in its <c>MT-Fault-Message</c> header (not retried).
/// </summary>
internal sealed class SubmitDocumentSchemaFilter : IFilter<ConsumeContext>
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("submitDocumentSchema");

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var errors = SubmitDocumentSchema.Validate(context.ReceiveContext.Body.GetBytes(), context.ReceiveContext.ContentType?.MediaType);
        if (errors.Count > 0)
        {
            throw new InvalidSubmitDocumentException(
                "SubmitDocument does not follow schemas/messages/submit-document.schema.json: " + string.Join("; ", errors));
        }

        await next.Send(context).ConfigureAwait(false);
    }
}

/// <summary>A SubmitDocument that fails its JSON Schema; the message names the violations.</summary>
public sealed class InvalidSubmitDocumentException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InvalidSubmitDocumentException()
    {
    }

    /// <summary>Creates the exception with the violations.</summary>
    public InvalidSubmitDocumentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an inner one.</summary>
    public InvalidSubmitDocumentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
