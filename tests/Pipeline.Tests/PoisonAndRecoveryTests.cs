using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>Poison results and lost work, on real RabbitMQ + PostgreSQL with the demo checkpoint.</summary>
public sealed class PoisonAndRecoveryTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("poison", new Dictionary<string, string?>
    {
        ["Inference:Tasks:table"] = NulOutputPage.DemoTable,
        ["Inference:BatchSize"] = "4",
        ["Inference:BatchTimeLimit"] = "00:00:01",
        ["Preparation:DefaultResolution"] = "224",
        // The tests run recovery passes themselves.
        ["Recovery:Interval"] = "01:00:00",
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_model_output_with_NUL_is_stored_readable_and_its_batch_neighbours_finish()
    {
        // Precondition: the demo model really writes U+0000 on this page; otherwise the test proves nothing.
        Assert.Contains('\0', await NulOutputPage.DecodeDirectlyAsync(NulOutputPage.NulSeed));

        var ids = new List<Guid>();
        foreach (var seed in new[] { 3, NulOutputPage.NulSeed, 4, 5 })
        {
            ids.Add((await _host.IngestAsync(NulOutputPage.WritePng(seed, _host.Root), TaskNames.Table)).DocumentId);
        }

        var docs = await WaitTerminalAsync(ids, TimeSpan.FromSeconds(120));
        Assert.All(docs.Values, d => Assert.Equal((DocumentStatus.Done, (string?)null), (d.Status, d.Error)));
        var results = await _host.WithDbAsync(db => db.Results.AsNoTracking().Join(db.Jobs, r => r.JobId, j => j.Id, (r, j) => new { j.DocumentId, r.RawText, j.Attempts }).ToListAsync());
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.Equal(1, r.Attempts));
        var poison = results.Single(r => r.DocumentId == ids[1]).RawText;
        Assert.DoesNotContain('\0', poison);
        Assert.Contains(StorableText.Replacement, poison);
    }

    [Fact]
    public async Task A_result_the_database_refuses_fails_only_its_own_job_with_the_reason()
    {
        var (doc, jobs) = await AddQueuedDocumentAsync(pages: 2);
        await using var scope = _host.Services.CreateAsyncScope();
        var state = scope.ServiceProvider.GetRequiredService<PipelineState>();
        var claimed = await state.ClaimJobsAsync(jobs.Select(j => j.Id).ToList(), "test-worker", _ => "test-checkpoint", CancellationToken.None);
        // jsonb refuses an escaped NUL (SQLSTATE 22P05), the exact failure of the issue; the text column would be sanitised.
        var good = NewResult(claimed[0].Id, """{"html":"<table></table>"}""");
        var bad = NewResult(claimed[1].Id, """{"text":"a\u0000b"}""");
        var stored = await state.StoreResultsAsync([(good, claimed[0]), (bad, claimed[1])], CancellationToken.None);
        await state.CompleteDocumentsAsync([doc.Id], CancellationToken.None);

        Assert.Equal(good.Id, Assert.Single(stored).Id);
        var after = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.DocumentId == doc.Id).ToDictionaryAsync(j => j.Id));
        Assert.Equal(JobStatus.Done, after[claimed[0].Id].Status);
        Assert.Equal(JobStatus.Failed, after[claimed[1].Id].Status);
        Assert.Contains("22P05", after[claimed[1].Id].Error, StringComparison.Ordinal);
        var document = await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == doc.Id));
        Assert.Equal(DocumentStatus.Partial, document.Status);
        Assert.Contains("22P05", document.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_that_keeps_failing_ends_as_a_failed_job_with_the_exception_and_in_the_error_queue()
    {
        var (doc, jobs) = await AddQueuedDocumentAsync(pages: 1);
        var page = await _host.WithDbAsync(db => db.Pages.AsNoTracking().SingleAsync(p => p.DocumentId == doc.Id));
        // Misrouted: a molecule request on the table queue; this worker cannot serve it, however often it retries.
        var request = InferenceRequests.For(jobs[0], page) with { Task = TaskNames.Molecule };
        var endpoint = await _host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:infer-table"));
        await endpoint.Send(request);

        Job? job = null;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            job = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobs[0].Id));
            return job.Status == JobStatus.Failed;
        }, TimeSpan.FromSeconds(90)));
        Assert.Contains("does not serve task 'molecule'", job!.Error, StringComparison.Ordinal);
        Assert.Contains("error queue", job.Error, StringComparison.Ordinal);
        var document = await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == doc.Id));
        Assert.Equal(DocumentStatus.Failed, document.Status);
        // The fault event and the move to the error queue are separate steps: poll for the message too.
        var inError = new List<System.Text.Json.JsonElement>();
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            try
            {
                inError.AddRange(await BrokerQueue.DrainAsync(_host.RabbitUri!, "infer-table_error"));
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // The error queue is declared when the first message moves there.
            }

            return inError.Any(m => m.GetProperty("jobId").GetGuid() == jobs[0].Id);
        }, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_page_prepared_at_another_resolution_is_refused_with_the_reason_and_a_claimed_job_records_its_checkpoint()
    {
        // A prepared 224 px page image to point the rows at; the second page claims to have been prepared at 896 px.
        var source = (await _host.IngestAsync(NulOutputPage.WritePng(11, _host.Root), TaskNames.Table)).DocumentId;
        await WaitTerminalAsync([source], TimeSpan.FromSeconds(120));
        var (doc, jobs) = await AddQueuedDocumentAsync(pages: 2);
        await _host.WithDbAsync(db => db.Pages.Where(p => p.DocumentId == doc.Id && p.Index == 1).ExecuteUpdateAsync(s => s.SetProperty(p => p.Resolution, 896)));
        var pages = await _host.WithDbAsync(db => db.Pages.AsNoTracking().Where(p => p.DocumentId == doc.Id).ToDictionaryAsync(p => p.Id));
        var endpoint = await _host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:infer-table"));
        foreach (var job in jobs)
        {
            await endpoint.Send(InferenceRequests.For(job, pages[job.PageId]));
        }

        var docs = await WaitTerminalAsync([doc.Id], TimeSpan.FromSeconds(120));
        var after = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.DocumentId == doc.Id).ToDictionaryAsync(j => j.PageId));
        var refused = after[pages.Values.Single(p => p.Index == 1).Id];
        var read = after[pages.Values.Single(p => p.Index == 0).Id];
        Assert.Equal(JobStatus.Failed, refused.Status);
        Assert.StartsWith("Page was prepared at 896 px but checkpoint demo-toy-paligemma2-table@0.1.0-demo reads 224 px", refused.Error, StringComparison.Ordinal);
        Assert.Equal(0, await _host.WithDbAsync(db => db.Results.CountAsync(r => r.JobId == refused.Id)));
        Assert.Equal(JobStatus.Done, read.Status);
        Assert.Equal(DocumentStatus.Partial, docs[doc.Id].Status);
        Assert.Contains("prepared at 896 px", docs[doc.Id].Error, StringComparison.Ordinal);
        // Job.Checkpoint (part of the jobs' unique key) names the checkpoint of the worker that claimed the job.
        Assert.All(after.Values, j => Assert.Equal("demo-toy-paligemma2-table", j.Checkpoint));
        Assert.Equal(jobs.Count, after.Count);
    }

    [Fact]
    public async Task Recovery_requeues_work_whose_lease_expired_and_fails_work_that_used_up_its_attempts()
    {
        // A prepared page to point the lost jobs at (blobs are content-addressed, so rows may share one).
        var source = (await _host.IngestAsync(NulOutputPage.WritePng(6, _host.Root), TaskNames.Table)).DocumentId;
        await WaitTerminalAsync([source], TimeSpan.FromSeconds(120));
        var (lost, lostJobs) = await AddQueuedDocumentAsync(pages: 1, running: (Attempts: 1, Expired: true));
        var (dead, _) = await AddQueuedDocumentAsync(pages: 1, running: (Attempts: 3, Expired: true));
        var (alive, aliveJobs) = await AddQueuedDocumentAsync(pages: 1, running: (Attempts: 1, Expired: false));
        var preparing = await AddPreparingDocumentAsync(seed: 7, attempts: 1);
        var hopeless = await AddPreparingDocumentAsync(seed: 8, attempts: 3);

        var pass = await _host.Services.GetRequiredService<RecoveryService>().RecoverAsync(CancellationToken.None);
        Assert.Equal((1, 1, 2), (pass.Republished, pass.Requeued, pass.Failed));

        var docs = await WaitTerminalAsync([lost.Id, dead.Id, preparing, hopeless], TimeSpan.FromSeconds(120));
        Assert.Equal(DocumentStatus.Done, docs[lost.Id].Status);
        Assert.Equal(DocumentStatus.Failed, docs[dead.Id].Status);
        Assert.Contains("did not finish after 3 attempt(s)", docs[dead.Id].Error, StringComparison.Ordinal);
        Assert.Equal(DocumentStatus.Done, docs[preparing].Status);
        Assert.Equal(DocumentStatus.Failed, docs[hopeless].Status);
        Assert.Contains("Preparation did not finish after 3 attempt(s)", docs[hopeless].Error, StringComparison.Ordinal);
        var lostJob = await _host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == lostJobs[0].Id));
        Assert.Equal((JobStatus.Done, 2), (lostJob.Status, lostJob.Attempts));
        Assert.Equal(1, await _host.WithDbAsync(db => db.Results.CountAsync(r => r.JobId == lostJobs[0].Id)));
        // A job whose worker still renews its lease is left alone.
        Assert.Equal(JobStatus.Running, (await _host.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == aliveJobs[0].Id))).Status);
        Assert.Equal(DocumentStatus.Queued, (await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == alive.Id))).Status);
    }

    [Fact]
    public async Task A_document_is_taken_by_one_preparation_at_a_time_and_recovery_announces_it_once_per_interval()
    {
        var received = await AddPreparingDocumentAsync(seed: 12, attempts: 0);
        await _host.WithDbAsync(db => db.Documents.Where(d => d.Id == received)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Received).SetProperty(d => d.LeaseExpiresAt, (DateTimeOffset?)null)));
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            var state = scope.ServiceProvider.GetRequiredService<PipelineState>();
            Assert.Equal(1, (await state.StartPreparingAsync(received, redelivered: false, CancellationToken.None))?.PrepareAttempts);
            // A second announcement (recovery's) while the first worker's lease is live is dropped.
            Assert.Null(await state.StartPreparingAsync(received, redelivered: false, CancellationToken.None));
            // The broker's redelivery of the message a dead worker held takes it at once.
            Assert.Equal(2, (await state.StartPreparingAsync(received, redelivered: true, CancellationToken.None))?.PrepareAttempts);
            await _host.WithDbAsync(db => db.Documents.Where(d => d.Id == received)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.LeaseExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1))));
            // Once the lease has expired (the worker died), the next announcement takes it.
            Assert.Equal(3, (await state.StartPreparingAsync(received, redelivered: false, CancellationToken.None))?.PrepareAttempts);
        }

        // A stalled document is announced on the first pass and not again on the next one (it may be waiting behind a
        // backlog in prepare-document); it still ends done.
        var stalled = await AddPreparingDocumentAsync(seed: 13, attempts: 1);
        var recovery = _host.Services.GetRequiredService<RecoveryService>();
        Assert.Equal(1, (await recovery.RecoverAsync(CancellationToken.None)).Republished);
        Assert.Equal(0, (await recovery.RecoverAsync(CancellationToken.None)).Republished);
        var docs = await WaitTerminalAsync([stalled], TimeSpan.FromSeconds(120));
        Assert.Equal(DocumentStatus.Done, docs[stalled].Status);
        Assert.Equal(2, docs[stalled].PrepareAttempts);
    }

    [Fact]
    public async Task Replay_requeues_failed_jobs_by_reason_and_failed_documents_by_id()
    {
        var source = (await _host.IngestAsync(NulOutputPage.WritePng(9, _host.Root), TaskNames.Table)).DocumentId;
        await WaitTerminalAsync([source], TimeSpan.FromSeconds(120));
        var (gpuFault, gpuJobs) = await AddQueuedDocumentAsync(pages: 1);
        var (other, otherJobs) = await AddQueuedDocumentAsync(pages: 1);
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            var state = scope.ServiceProvider.GetRequiredService<PipelineState>();
            await state.FailJobsAsync([(gpuJobs[0].Id, "Inference failed: CUDA error 700"), (otherJobs[0].Id, "Inference failed: something else")], CancellationToken.None);
            await state.CompleteDocumentsAsync([gpuFault.Id, other.Id], CancellationToken.None);
        }

        var unprepared = await AddPreparingDocumentAsync(seed: 10, attempts: 1);
        await _host.WithDbAsync(db => db.Documents.Where(d => d.Id == unprepared)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DocumentStatus.Failed).SetProperty(d => d.Error, "Preparation failed: renderer crashed")));

        await using (var scope = _host.Services.CreateAsyncScope())
        {
            var replay = scope.ServiceProvider.GetRequiredService<Replayer>();
            Assert.Equal(new ReplayOutcome(1, 0), await replay.ReplayAsync(new ReplaySelection { Reason = "cuda" }, CancellationToken.None));
            Assert.Equal(new ReplayOutcome(0, 1), await replay.ReplayAsync(new ReplaySelection { Ids = [unprepared] }, CancellationToken.None));
        }

        var docs = await WaitTerminalAsync([gpuFault.Id, unprepared], TimeSpan.FromSeconds(120));
        Assert.Equal((DocumentStatus.Done, (string?)null), (docs[gpuFault.Id].Status, docs[gpuFault.Id].Error));
        Assert.Equal(DocumentStatus.Done, docs[unprepared].Status);
        Assert.Equal(1, await _host.WithDbAsync(db => db.Results.CountAsync(r => r.JobId == gpuJobs[0].Id)));
        Assert.Equal(DocumentStatus.Failed, (await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync(d => d.Id == other.Id))).Status);
    }

    private async Task<Dictionary<Guid, Document>> WaitTerminalAsync(IReadOnlyCollection<Guid> ids, TimeSpan timeout)
    {
        Dictionary<Guid, Document> docs = [];
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Where(d => ids.Contains(d.Id)).ToDictionaryAsync(d => d.Id));
            return docs.Count == ids.Count && docs.Values.All(d => d.Status is DocumentStatus.Done or DocumentStatus.Failed or DocumentStatus.Partial);
        }, timeout), "documents did not end: " + string.Join(", ", docs.Values.Select(d => $"{d.Id}={d.Status}")));
        return docs;
    }

    private async Task<(Document Document, List<Job> Jobs)> AddQueuedDocumentAsync(int pages, (int Attempts, bool Expired)? running = null)
    {
        // Reuse any prepared page image already in the blob store, or a dummy key when the test never decodes it.
        var image = await _host.WithDbAsync(db => db.Pages.AsNoTracking().Select(p => p.ImageBlobKey).FirstOrDefaultAsync()) ?? new string('c', 64);
        var now = DateTimeOffset.UtcNow;
        var doc = new Document
        {
            Id = Guid.CreateVersion7(), Sha256 = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()).PadRight(64, '0'), MediaType = "image/png",
            Source = "api", Task = TaskNames.Table, Status = DocumentStatus.Queued, ReceivedAt = now,
        };
        var jobs = new List<Job>();
        await _host.WithDbAsync(async db =>
        {
            db.Documents.Add(doc);
            for (var i = 0; i < pages; i++)
            {
                var page = new Page { Id = Guid.CreateVersion7(), DocumentId = doc.Id, Index = i, Width = 224, Height = 224, Resolution = 224, ImageBlobKey = image };
                var job = new Job { Id = Guid.CreateVersion7(), DocumentId = doc.Id, PageId = page.Id, Task = TaskNames.Table, Status = JobStatus.Queued, EnqueuedAt = now };
                if (running is { } r)
                {
                    job.Status = JobStatus.Running;
                    job.Attempts = r.Attempts;
                    job.Worker = "killed-worker";
                    job.StartedAt = now.AddMinutes(-10);
                    job.LeaseExpiresAt = r.Expired ? now.AddMinutes(-1) : now.AddMinutes(10);
                }

                db.Pages.Add(page);
                db.Jobs.Add(job);
                jobs.Add(job);
            }

            return await db.SaveChangesAsync();
        });
        return (doc, jobs);
    }

    private async Task<Guid> AddPreparingDocumentAsync(int seed, int attempts)
    {
        var blobs = _host.Services.GetRequiredService<Storage.Blobs.IBlobStore>();
        await using var file = File.OpenRead(NulOutputPage.WritePng(seed, _host.Root));
        var blob = await blobs.PutAsync(file);
        var id = Guid.CreateVersion7();
        await _host.WithDbAsync(async db =>
        {
            db.Documents.Add(new Document
            {
                Id = id, Sha256 = blob.Key, MediaType = "image/png", Source = "api", Task = TaskNames.Table, Status = DocumentStatus.Preparing,
                ReceivedAt = DateTimeOffset.UtcNow.AddMinutes(-10), SizeBytes = blob.Size, PrepareAttempts = attempts,
                LeaseExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            });
            return await db.SaveChangesAsync();
        });
        return id;
    }

    private static Result NewResult(Guid jobId, string payload) => new()
    {
        Id = Guid.CreateVersion7(), JobId = jobId, Task = TaskNames.Table, Checkpoint = "test", CheckpointVersion = "1", PromptPrefix = "",
        RawText = "text", Payload = payload, Valid = true, CreatedAt = DateTimeOffset.UtcNow,
    };
}
