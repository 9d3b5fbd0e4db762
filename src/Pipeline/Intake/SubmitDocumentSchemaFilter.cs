using MassTransit;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// On endpoint <c>submit-document</c>: a message that deserializes but does not follow the schema (an
/// unknown task or property) faults with a <see cref="InvalidSubmitDocumentException"/> naming every
/// violation instead of reaching the consumer. MassTransit deserializes before consume filters run, so a
/// message that cannot even be read (a number for a string, no path) faults there; see
/// <see cref="SubmitDocumentSchemaErrorFilter"/> for the readable reason both get.
/// </summary>
internal sealed class SubmitDocumentSchemaFilter : IFilter<ConsumeContext>
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("submitDocumentSchema");

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var errors = SubmitDocumentSchema.Validate(context.ReceiveContext.Body.GetBytes(), context.ReceiveContext.ContentType?.MediaType);
        if (errors.Count > 0)
        {
            throw new InvalidSubmitDocumentException(SubmitDocumentSchema.Describe(errors));
        }

        await next.Send(context).ConfigureAwait(false);
    }
}

/// <summary>
/// In the error pipe of <c>submit-document</c> (before the fault is generated and the message moved to
/// <c>submit-document_error</c>): a faulted message that fails the schema gets every violation in its
/// <see cref="Header"/> header, whatever the exception was.
/// </summary>
internal sealed class SubmitDocumentSchemaErrorFilter : IFilter<ExceptionReceiveContext>
{
    /// <summary>Header on the message in <c>submit-document_error</c>.</summary>
    public const string Header = "DocPipeline-Schema-Errors";

    public void Probe(ProbeContext context) => context.CreateFilterScope("submitDocumentSchemaErrors");

    public Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        var errors = SubmitDocumentSchema.Validate(context.Body.GetBytes(), context.ContentType?.MediaType);
        if (errors.Count > 0)
        {
            context.ExceptionHeaders.Set(Header, SubmitDocumentSchema.Describe(errors));
        }

        return next.Send(context);
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
