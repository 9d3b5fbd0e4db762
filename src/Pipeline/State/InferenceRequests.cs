using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>Builds the one message shape for a job, whoever sends it (preparation, recovery, replay).</summary>
public static class InferenceRequests
{
    /// <summary>The request for <paramref name="job"/> over its prepared <paramref name="page"/>.</summary>
    public static InferenceRequested For(Job job, Page page)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(page);
        return new InferenceRequested
        {
            JobId = job.Id,
            DocumentId = job.DocumentId,
            PageId = page.Id,
            PageIndex = page.Index,
            Task = job.Task,
            ImageBlobKey = page.ImageBlobKey,
            ImageWidth = page.Width,
            ImageHeight = page.Height,
            Resolution = page.Resolution,
        };
    }
}
