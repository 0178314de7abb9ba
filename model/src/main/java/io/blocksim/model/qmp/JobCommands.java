package io.blocksim.model.qmp;

import io.blocksim.model.job.Job;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The QMP verbs of jobs (QEMU's job-qmp.c and the block-job-* commands of blockdev.c) and the
 * job queries; the life cycle they drive is {@link JobManager} (job.c).
 */
final class JobCommands {
  private final JobManager jobs;

  JobCommands(JobManager jobs) {
    this.jobs = jobs;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("query-jobs", this::queryJobs);
    handlers.put("query-block-jobs", this::queryBlockJobs);
    handlers.put("job-cancel", args -> {
      Job job = jobArg(args, "id");
      jobs.userCancel(job, true);
      return null;
    });
    handlers.put("job-pause", args -> {
      jobs.userPause(jobArg(args, "id"));
      return null;
    });
    handlers.put("job-resume", args -> {
      jobs.userResume(jobArg(args, "id"));
      return null;
    });
    handlers.put("job-complete", args -> {
      jobs.complete(jobArg(args, "id"));
      return null;
    });
    handlers.put("job-finalize", args -> {
      jobs.finalizeVerb(jobArg(args, "id"));
      return null;
    });
    handlers.put("job-dismiss", args -> {
      jobs.dismissVerb(jobArg(args, "id"));
      return null;
    });
    handlers.put("block-job-cancel", this::blockJobCancel);
    handlers.put("block-job-pause", args -> {
      jobs.userPause(blockJobArg(args, "device"));
      return null;
    });
    handlers.put("block-job-resume", args -> {
      jobs.userResume(blockJobArg(args, "device"));
      return null;
    });
    handlers.put("block-job-complete", args -> {
      jobs.complete(blockJobArg(args, "device"));
      return null;
    });
    handlers.put("block-job-finalize", args -> {
      jobs.finalizeVerb(blockJobArg(args, "id"));
      return null;
    });
    handlers.put("block-job-dismiss", args -> {
      jobs.dismissVerb(blockJobArg(args, "id"));
      return null;
    });
    handlers.put("block-job-set-speed", this::blockJobSetSpeed);
  }


  private Job jobArg(Args args, String key) throws QmpError {
    String id = args.str(key);
    args.checkNoExtra();
    Job job = jobs.find(id);
    if (job == null) {
      throw QmpError.generic("Job not found");
    }
    return job;
  }

  private Job blockJobArg(Args args, String key) throws QmpError {
    String id = args.str(key);
    args.checkNoExtra();
    return jobs.findBlockJob(id);
  }

  private Object blockJobCancel(Args args) throws QmpError {
    String device = args.str("device");
    boolean force = args.bool("force", false);
    args.checkNoExtra();
    Job job = jobs.findBlockJob(device);
    if (job.userPaused() && !force) {
      throw QmpError.generic("The block job for device '" + device + "' is currently paused");
    }
    jobs.userCancel(job, force);
    return null;
  }

  private Object blockJobSetSpeed(Args args) throws QmpError {
    String device = args.str("device");
    long speed = args.integer("speed");
    args.checkNoExtra();
    Job job = jobs.findBlockJob(device);
    jobs.setSpeed(job, speed);
    return null;
  }

  private Object queryJobs(Args args) throws QmpError {
    args.checkNoExtra();
    List<Object> list = new ArrayList<>();
    for (Job job : jobs.jobs()) {
      if (job.id() == null) {
        continue;
      }
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("id", job.id());
      info.put("type", job.type());
      info.put("status", job.status().qapiName());
      info.put("current-progress", job.progressCurrent());
      info.put("total-progress", job.progressTotal());
      if (job.error() != null) {
        info.put("error", job.error());
      }
      list.add(info);
    }
    return list;
  }

  private Object queryBlockJobs(Args args) throws QmpError {
    args.checkNoExtra();
    List<Object> list = new ArrayList<>();
    for (Job job : jobs.jobs()) {
      if (job.id() == null || !job.isBlockJob()) {
        continue;
      }
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("type", job.type());
      info.put("device", job.id());
      info.put("len", job.progressTotal());
      info.put("offset", job.progressCurrent());
      info.put("busy", job.busy());
      info.put("paused", job.pauseRequested());
      info.put("speed", job.speed());
      info.put("io-status", job.ioStatus());
      info.put("ready", job.status().ready());
      info.put("status", job.status().qapiName());
      info.put("auto-finalize", job.autoFinalize());
      info.put("auto-dismiss", job.autoDismiss());
      if (job.ret() != 0) {
        info.put("error", job.error() != null ? job.error() : Job.strerror(job.ret()));
      }
      list.add(info);
    }
    return list;
  }
}
