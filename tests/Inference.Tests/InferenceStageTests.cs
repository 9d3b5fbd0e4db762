using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Tests;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>The batched inference consumer in-process on real RabbitMQ + PostgreSQL with the demo checkpoint.</summary>
public sealed class InferenceStageTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("stage", new Dictionary<string, string?>
    {
        ["Inference:Tasks:table"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "table"),
        ["Inference:BatchSize"] = "4",
        ["Preparation:DefaultResolution"] = "224",
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Redelivered_requests_store_nothing_twice_and_a_bad_page_fails_only_its_own_job()
    {
        var ingest = await _host.IngestAsync(TestServices.CorpusFile("pdf", "ltxtable.pdf"), TaskNames.Table);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            (await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == ingest.DocumentId))).Status == DocumentStatus.Done,
            TimeSpan.FromSeconds(120)));
        var jobs = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.DocumentId == ingest.DocumentId).ToListAsync());
        var pages = await _host.WithDbAsync(db => db.Pages.AsNoTracking().Where(p => p.DocumentId == ingest.DocumentId).ToListAsync());
        Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", "ltxtable.pdf")), await _host.WithDbAsync(db => db.Results.CountAsync()));

        // A second document whose page image is gone from the blob store.
        var orphanDoc = new Document
        {
            Id = Guid.CreateVersion7(), Sha256 = new string('a', 64), MediaType = "application/pdf", Source = "api", Task = TaskNames.Table,
            Status = DocumentStatus.Queued, ReceivedAt = DateTimeOffset.UtcNow,
        };
        var orphanPage = new Page { Id = Guid.CreateVersion7(), DocumentId = orphanDoc.Id, Index = 0, Width = 224, Height = 224, ImageBlobKey = new string('b', 64) };
        var orphanJob = new Job { Id = Guid.CreateVersion7(), DocumentId = orphanDoc.Id, PageId = orphanPage.Id, Task = TaskNames.Table, Status = JobStatus.Queued, EnqueuedAt = DateTimeOffset.UtcNow };
        await _host.WithDbAsync(async db =>
        {
            db.Documents.Add(orphanDoc);
            db.Pages.Add(orphanPage);
            db.Jobs.Add(orphanJob);
            return await db.SaveChangesAsync();
        });

        // Replay every original request (as a broker would after a crash) together with the broken one.
        var bus = _host.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri("queue:infer-table"));
        foreach (var j in jobs)
        {
            var p = pages.Single(x => x.Id == j.PageId);
            await endpoint.Send(new InferenceRequested
            {
                JobId = j.Id, DocumentId = j.DocumentId, PageId = p.Id, PageIndex = p.Index, Task = TaskNames.Table,
                ImageBlobKey = p.ImageBlobKey, ImageWidth = p.Width, ImageHeight = p.Height, Resolution = 224,
            });
        }

        await endpoint.Send(new InferenceRequested
        {
            JobId = orphanJob.Id, DocumentId = orphanDoc.Id, PageId = orphanPage.Id, PageIndex = 0, Task = TaskNames.Table,
            ImageBlobKey = orphanPage.ImageBlobKey, ImageWidth = 224, ImageHeight = 224, Resolution = 224,
        });

        Assert.True(await TestServices.EventuallyAsync(async () =>
            (await _host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == orphanJob.Id))).Status == JobStatus.Failed,
            TimeSpan.FromSeconds(60)));
        Assert.True(await TestServices.EventuallyAsync(async () =>
            await _host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.DocumentId == ingest.DocumentId).AllAsync(j => j.Status == JobStatus.Done)),
            TimeSpan.FromSeconds(60)));

        Assert.Equal(PdfReference.PageCount(TestServices.CorpusFile("pdf", "ltxtable.pdf")), await _host.WithDbAsync(db => db.Results.CountAsync()));
        var failed = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == orphanJob.Id));
        Assert.Contains("missing", failed.Error, StringComparison.Ordinal);
        Assert.Equal(DocumentStatus.Failed, (await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == orphanDoc.Id))).Status);
        Assert.All(await _host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.DocumentId == ingest.DocumentId).ToListAsync()),
            j => Assert.Equal((JobStatus.Done, 1), (j.Status, j.Attempts)));
    }
}
