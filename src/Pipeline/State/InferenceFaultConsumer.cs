using MassTransit;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Contracts;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>
/// A request that kept failing past its retries sits in <c>infer-&lt;task&gt;_error</c>; its job must not stay
/// <c>running</c> and its document <c>queued</c> forever: the job fails with the exception text (replayable with
/// <c>docpipe replay</c> after a fix) and the document is completed from its jobs.
/// </summary>
public sealed class InferenceFaultConsumer(PipelineState state, ILogger<InferenceFaultConsumer> logger) : IConsumer<Fault<InferenceRequested>>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Fault<InferenceRequested>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Message.Message;
        var error = context.Message.Exceptions.FirstOrDefault();
        var reason = $"Inference failed after retries (message in the error queue): {error?.ExceptionType?.Split('.')[^1]}: {error?.Message}";
        await state.FailJobsAsync([(request.JobId, reason)], context.CancellationToken).ConfigureAwait(false);
        await state.CompleteDocumentsAsync([request.DocumentId], context.CancellationToken).ConfigureAwait(false);
        logger.LogWarning("Job {JobId} (page {PageIndex}) failed after retries: {Reason}", request.JobId, request.PageIndex, reason);
    }
}
